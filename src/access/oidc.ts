/**
 * Optional sign-in with OpenID Connect (openid-client): the authorization-code flow with PKCE,
 * state and nonce, kept for ten minutes in a cookie scoped to the callback. It only signs in
 * people who already exist (invited first): by the identity linked earlier, else by a verified
 * e-mail, which links it. Second factors are the identity provider's business on this path.
 */
import * as client from "openid-client";

export interface OidcSettings {
  issuer: string;
  clientId: string;
  clientSecret?: string;
  /** where browsers reach Amends, e.g. https://status-admin.example.com */
  publicUrl: string;
}

export function oidcSettingsFromEnv(env = process.env): OidcSettings | undefined {
  if (!env.AMENDS_OIDC_ISSUER || !env.AMENDS_OIDC_CLIENT_ID || !env.AMENDS_PUBLIC_URL) return undefined;
  return {
    issuer: env.AMENDS_OIDC_ISSUER,
    clientId: env.AMENDS_OIDC_CLIENT_ID,
    clientSecret: env.AMENDS_OIDC_CLIENT_SECRET,
    publicUrl: env.AMENDS_PUBLIC_URL.replace(/\/$/, ""),
  };
}

export const OIDC_COOKIE = "amends_oidc";
export const OIDC_CALLBACK = "/api/v1/session/oidc/callback";

export interface OidcIdentity {
  subject: string;
  email?: string;
  emailVerified: boolean;
}

export class OidcLogin {
  private config?: Promise<client.Configuration>;

  constructor(private readonly settings: OidcSettings) {}

  get redirectUri() {
    return `${this.settings.publicUrl}${OIDC_CALLBACK}`;
  }

  private configuration(): Promise<client.Configuration> {
    const s = this.settings;
    // Discovery once, retried after a failure; plain http only for a provider on this machine (tests, dev).
    this.config ??= client
      .discovery(
        new URL(s.issuer),
        s.clientId,
        s.clientSecret,
        undefined,
        /^http:\/\/(127\.0\.0\.1|localhost)[:/]/.test(s.issuer)
          ? { execute: [client.allowInsecureRequests] }
          : undefined,
      )
      .catch((err) => {
        this.config = undefined;
        throw err;
      });
    return this.config;
  }

  /** The provider's URL to send the browser to, and the cookie value that proves the return is ours. */
  async start(): Promise<{ url: string; cookie: string }> {
    const config = await this.configuration();
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: this.redirectUri,
      scope: "openid email profile",
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      state,
      nonce,
    });
    return { url: url.href, cookie: `${state}.${nonce}.${verifier}` };
  }

  /** Exchanges the code the provider sent back; throws when anything does not match. */
  async finish(query: string, cookie: string): Promise<OidcIdentity> {
    const [state, nonce, verifier] = cookie.split(".");
    if (!state || !nonce || !verifier) throw new Error("the sign-in was not started here, or took too long");
    const config = await this.configuration();
    const tokens = await client.authorizationCodeGrant(config, new URL(`${this.redirectUri}?${query}`), {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
      idTokenExpected: true,
    });
    const claims = tokens.claims();
    if (!claims) throw new Error("the provider sent no ID token");
    return {
      subject: `${claims.iss}|${claims.sub}`,
      email: typeof claims.email === "string" ? claims.email.toLowerCase() : undefined,
      emailVerified: claims.email_verified === true,
    };
  }
}
