// Web push on the status page: progressive enhancement over the no-JS e-mail and SMS form. The button
// stays hidden unless the browser can push and the server has a VAPID key. Subscribing sends a
// confirmation as a push notification; clicking it confirms (double opt-in, like e-mail).
(async () => {
  const box = document.getElementById("push");
  if (!box || !("serviceWorker" in navigator) || !("PushManager" in window)) return;
  const reply = await fetch("/push/key").catch(() => undefined);
  if (!reply?.ok) return;
  const { key } = await reply.json();
  if (!key) return;
  const status = document.getElementById("push-status");
  const button = document.getElementById("push-subscribe");
  box.hidden = false;
  const bytes = (b64) => {
    const raw = atob((b64 + "=".repeat((4 - (b64.length % 4)) % 4)).replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(raw, (c) => c.charCodeAt(0));
  };
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      if ((await Notification.requestPermission()) !== "granted") throw new Error(box.dataset.denied);
      const registration = await navigator.serviceWorker.register("/sw.js");
      await navigator.serviceWorker.ready;
      const subscription = await registration.pushManager.subscribe({
        userVisibleOnly: true,
        applicationServerKey: bytes(key),
      });
      const { endpoint, keys } = subscription.toJSON();
      // The same choice of components and cities as the form above.
      const ticked = (name) =>
        [...document.querySelectorAll(`#subscribe-form input[name="${name}"]:checked`)].map((i) => i.value);
      const saved = await fetch("/api/v1/public/subscriptions", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          channel: "web_push",
          address: endpoint,
          keys,
          locale: box.dataset.locale,
          components: ticked("components"),
          regions: ticked("regions"),
        }),
      });
      if (!saved.ok) throw new Error(box.dataset.failed);
      status.textContent = box.dataset.confirm;
    } catch (err) {
      status.textContent = err?.message || box.dataset.failed;
      button.disabled = false;
    }
  });
})();
