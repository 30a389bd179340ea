/// Files coreos-cloudinit generates from the `coreos` section: environment drop-ins (spec §2),
/// `/etc/coreos/update.conf` (§1.8), `/etc/oem-release` (§1.10) and flannel's options (§1.7).
public enum GeneratedFiles {
    /// `/run/systemd/system/<unit>.d/20-cloudinit.conf` for etcd, etcd2, fleet and locksmith.
    public static let dropInName = "20-cloudinit.conf"

    /// `[Service]` and one `Environment="KEY=value"` line per variable. Values are not escaped, as upstream.
    public static func dropIn(_ environment: [(name: String, value: String)]) -> String {
        (["[Service]"] + environment.map { "Environment=\"\($0.name)=\($0.value)\"" }).joined(separator: "\n") + "\n"
    }

    /// etcd's drop-in: the lines coreos-cloudinit writes for etcd 0.4 (which etcd 3.4 no longer reads for
    /// addr, peer-addr and bind-addr), then the etcd 3.4 settings that make those keys take effect.
    public static func etcdDropIn(_ etcd: EnvironmentSection) -> String? {
        guard !etcd.isEmpty else { return nil }
        return dropIn(etcd.environment + Etcd34.environment(for: etcd))
    }

    /// Each set key replaces the first line starting with its variable; the others are appended sorted.
    public static func updateConf(base: String?, update: [String: String]) -> String? {
        let settings = update.filter { !$0.value.isEmpty }.map { (name: $0.key.uppercased(), value: $0.value) }
        guard !settings.isEmpty else { return nil }
        var lines = (base ?? "").split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        var appended: [String] = []
        for setting in settings.sorted(by: { $0.name < $1.name }) {
            let line = "\(setting.name)=\(setting.value)"
            if let index = lines.firstIndex(where: { $0.hasPrefix(setting.name) }) {
                lines[index] = line
            } else {
                appended.append(line)
            }
        }
        return (lines + appended).joined(separator: "\n") + "\n"
    }

    /// `ID=` and `VERSION_ID=` unquoted, then the quoted names; nothing without an id.
    public static func oemRelease(_ oem: [String: String]) -> String? {
        guard let id = oem["id"], !id.isEmpty else { return nil }
        var lines = ["ID=\(id)"]
        if let version = oem["version_id"] { lines.append("VERSION_ID=\(version)") }
        for (key, variable) in [("name", "NAME"), ("home_url", "HOME_URL"), ("bug_report_url", "BUG_REPORT_URL")] {
            if let value = oem[key] { lines.append("\(variable)=\"\(value)\"") }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `/run/flannel/options.env`: `KEY=value` lines with no trailing newline.
    public static func flannelOptions(_ flannel: EnvironmentSection) -> String? {
        flannel.isEmpty ? nil : flannel.environment.map { "\($0.name)=\($0.value)" }.joined(separator: "\n")
    }
}

/// What etcd 3.4 needs so that etcd 0.4's `addr`, `bind-addr`, `peer-addr` and `peer-bind-addr` mean
/// what they meant: clients and peers reached at the advertised addresses, listening on the bind host.
enum Etcd34 {
    static func environment(for etcd: EnvironmentSection) -> [(name: String, value: String)] {
        var lines: [(name: String, value: String)] = []
        func set(_ name: String, _ value: String, unlessKey key: String) {
            if etcd[key] == nil { lines.append((name, value)) }
        }
        let bind = etcd["bind_addr"].map(HostPort.init)
        if let addr = etcd["addr"].map(HostPort.init) {
            set("ETCD_ADVERTISE_CLIENT_URLS", addr.url, unlessKey: "advertise_client_urls")
        }
        if let listen = HostPort.listening(bind: bind, advertised: etcd["addr"].map(HostPort.init), defaultPort: "2379") {
            // etcdctl on the machine talks to 127.0.0.1 unless told otherwise.
            let local = HostPort(host: "127.0.0.1", port: listen.port)
            let urls = listen.host == "0.0.0.0" || listen.host == "127.0.0.1" ? [listen.url] : [listen.url, local.url]
            set("ETCD_LISTEN_CLIENT_URLS", urls.joined(separator: ","), unlessKey: "listen_client_urls")
        }
        if let peer = etcd["peer_addr"].map(HostPort.init) {
            set("ETCD_INITIAL_ADVERTISE_PEER_URLS", peer.url, unlessKey: "initial_advertise_peer_urls")
            let peerBind = etcd["peer_bind_addr"].map(HostPort.init) ?? bind.map { HostPort(host: $0.host, port: nil) }
            if let listen = HostPort.listening(bind: peerBind, advertised: peer, defaultPort: "2380") {
                set("ETCD_LISTEN_PEER_URLS", listen.url, unlessKey: "listen_peer_urls")
            }
            // Without discovery or peers etcd 0.4 started a one-member cluster named after the machine.
            if etcd["discovery"] == nil, etcd["peers"] == nil, etcd["initial_cluster"] == nil {
                lines.append(("ETCD_INITIAL_CLUSTER", "\(etcd["name"] ?? "default")=\(peer.url)"))
            }
        }
        // The article's `etcdctl set` and discovery speak etcd's v2 API.
        lines.append(("ETCD_ENABLE_V2", "true"))
        return lines
    }
}

/// `host:port` as etcd 0.4 took it, or a URL.
struct HostPort: Equatable {
    var scheme = "http"
    var host: String
    var port: String?

    init(host: String, port: String?) {
        self.host = host
        self.port = port
    }

    init(_ text: String) {
        var rest = Substring(text)
        if let separator = rest.firstRange(of: "://") {
            scheme = String(rest[..<separator.lowerBound])
            rest = rest[separator.upperBound...]
        }
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        if let colon = rest.lastIndex(of: ":"), !rest[rest.index(after: colon)...].isEmpty,
           rest[rest.index(after: colon)...].allSatisfy(\.isASCIIDigit) {
            host = String(rest[..<colon])
            port = String(rest[rest.index(after: colon)...])
        } else {
            host = String(rest)
        }
    }

    var url: String { "\(scheme)://\(host)" + (port.map { ":\($0)" } ?? "") }

    /// The bind host (or the advertised one) with the bind port (or the advertised one, or the default).
    static func listening(bind: HostPort?, advertised: HostPort?, defaultPort: String) -> HostPort? {
        guard let host = bind?.host ?? advertised?.host else { return nil }
        return HostPort(host: host, port: bind?.port ?? advertised?.port ?? defaultPort)
    }
}
