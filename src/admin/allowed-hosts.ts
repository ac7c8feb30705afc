/**
 * The admin listener's Host check. DNS rebinding: a hostile page at `attacker.example` has its
 * name re-resolved to 127.0.0.1, and its script then reads `/metrics` or tries logins on the
 * loopback listener through the visitor's browser, as its own origin. The browser still sends
 * `Host: attacker.example`, so the listener answers only for names it is known by.
 */
import type { AdminListenerConfig, Config } from '../config/config.js';
import { parseClientIp } from '../request/client-ip.js';

/** `[ipv6]` or a name or dotted quad, then an optional port; nothing else (no userinfo, no zone id). */
const hostHeader = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]@]+))(?::\d{1,5})?$/;

export class AllowedHosts {
  private readonly names: ReadonlySet<string>;
  private publicHosts: { readonly config: Config; readonly names: ReadonlySet<string> } | undefined;

  constructor(admin: AdminListenerConfig) {
    this.names = new Set(['localhost', admin.host.toLowerCase(), ...admin.allowedHosts]);
  }

  /**
   * Whether a request with this Host header may be answered: an IP literal (no DNS name, so
   * nothing to rebind: what Kubernetes probes and Prometheus' pod discovery send), `localhost`,
   * the listener's host, `admin.allowedHosts`, and the hosts of the serving config's
   * publicBaseUrls. No Host at all is no browser's request.
   */
  allows(header: string | undefined, config: Config | undefined): boolean {
    if (header === undefined) return true;
    const match = hostHeader.exec(header);
    if (match === null) return false;
    if (match[1] !== undefined) return match[1].includes(':') && parseClientIp(match[1]) !== undefined;
    const name = match[2]!.toLowerCase().replace(/\.$/, '');
    if (parseClientIp(name)?.text === name) return true;
    return this.names.has(name) || (config !== undefined && this.publicHostsOf(config).has(name));
  }

  /** The publicBaseUrl hosts of `config`, kept until a reload swaps it. */
  private publicHostsOf(config: Config): ReadonlySet<string> {
    if (this.publicHosts?.config !== config) {
      const urls = [config.signing?.publicBaseUrl, ...config.routes.map((route) => route.publicBaseUrl)];
      const names = new Set(urls.flatMap((url) => (url === undefined ? [] : [new URL(url).hostname])));
      this.publicHosts = { config, names };
    }
    return this.publicHosts.names;
  }
}
