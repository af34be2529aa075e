// The status page's service worker: shows what Amends pushes and opens its link on click.
self.addEventListener("push", (event) => {
  const message = event.data ? event.data.json() : {};
  event.waitUntil(
    self.registration.showNotification(message.title || "Status", {
      body: message.body,
      tag: message.tag,
      lang: message.lang,
      data: { url: message.url || message.confirm_url || "/" },
    }),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(self.clients.openWindow(event.notification.data.url));
});
