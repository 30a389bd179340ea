/// The keys coreos-cloudinit knows (its `config` package), with their types. The validator checks
/// documents against it and the decoder reads values by it, so both agree on what a key means.
public indirect enum FieldType: Sendable {
    case string, bool, int, float, stringList
    case structure([Field])
    case structureList([Field])

    /// The names coreos-cloudinit's messages use: `(want []string)`.
    var name: String {
        switch self {
        case .string: "string"
        case .bool: "bool"
        case .int: "int"
        case .float: "float64"
        case .stringList: "[]string"
        case .structure: "struct"
        case .structureList: "[]struct"
        }
    }
}

public struct Field: Sendable {
    /// The underscore spelling; documents may use hyphens instead.
    public let name: String
    public let type: FieldType
    public let deprecation: String?

    init(_ name: String, _ type: FieldType, deprecated: String? = nil) {
        self.name = name
        self.type = type
        self.deprecation = deprecated
    }
}

extension [Field] {
    func field(named key: String) -> Field? { first { $0.name == Schema.normalized(key) } }
}

public enum Schema {
    /// `reboot-strategy` and `reboot_strategy` are the same key.
    public static func normalized(_ key: String) -> String { key.replacingAll("-", with: "_") }

    static func strings(_ names: String...) -> [Field] { names.map { Field($0, .string) } }

    /// etcd 0.4's options, in the order their environment lines are written (`config/etcd.go`).
    static let etcd: [Field] = {
        let types: [String: FieldType] = [
            "cluster_active_size": .int, "cluster_remove_delay": .float, "cluster_sync_interval": .float,
            "http_read_timeout": .float, "http_write_timeout": .float, "max_result_buffer": .int,
            "max_retry_attempts": .int, "peer_election_timeout": .int, "peer_heartbeat_interval": .int,
            "retry_interval": .float, "snapshot": .bool, "snapshot_count": .int, "verbose": .bool,
            "very_verbose": .bool, "very_very_verbose": .bool,
            "election_timeout": .int, "force_new_cluster": .bool, "heartbeat_interval": .int,
            "max_snapshots": .int, "max_wals": .int,
        ]
        let current = ["addr", "bind_addr", "ca_file", "cert_file", "cluster_active_size", "cluster_remove_delay",
                       "cluster_sync_interval", "cors", "data_dir", "discovery", "graphite_host",
                       "http_read_timeout", "http_write_timeout", "key_file", "max_result_buffer",
                       "max_retry_attempts", "name", "peer_addr", "peer_bind_addr", "peer_ca_file",
                       "peer_cert_file", "peer_election_timeout", "peer_heartbeat_interval", "peer_key_file",
                       "peers", "peers_file", "retry_interval", "snapshot", "snapshot_count", "trace",
                       "verbose", "very_verbose", "very_very_verbose"]
        let etcd2Only = ["advertise_client_urls", "discovery_fallback", "discovery_proxy", "discovery_srv",
                         "election_timeout", "force_new_cluster", "heartbeat_interval",
                         "initial_advertise_peer_urls", "initial_cluster", "initial_cluster_state",
                         "initial_cluster_token", "listen_client_urls", "listen_peer_urls", "max_snapshots",
                         "max_wals", "proxy"]
        return (current.map { Field($0, types[$0] ?? .string) }
            + etcd2Only.map { Field($0, types[$0] ?? .string, deprecated: "etcd2 options no longer work for etcd") })
            .sorted { $0.name < $1.name }
    }()

    static let etcd2: [Field] = {
        let types: [String: FieldType] = [
            "client_cert_auth": .bool, "debug": .bool, "election_timeout": .int, "enable_pprof": .bool,
            "force_new_cluster": .bool, "heartbeat_interval": .int, "max_snapshots": .int, "max_wals": .int,
            "peer_client_cert_auth": .bool, "proxy_dial_timeout": .int, "proxy_failure_wait": .int,
            "proxy_read_timeout": .int, "proxy_refresh_interval": .int, "proxy_write_timeout": .int,
            "snapshot_count": .int, "strict_reconfig_check": .bool,
        ]
        let names = ["advertise_client_urls", "ca_file", "cert_file", "client_cert_auth", "cors", "data_dir",
                     "debug", "discovery", "discovery_fallback", "discovery_proxy", "discovery_srv",
                     "election_timeout", "enable_pprof", "force_new_cluster", "heartbeat_interval",
                     "initial_advertise_peer_urls", "initial_cluster", "initial_cluster_state",
                     "initial_cluster_token", "key_file", "listen_client_urls", "listen_peer_urls",
                     "log_package_levels", "max_snapshots", "max_wals", "name", "peer_ca_file",
                     "peer_cert_file", "peer_client_cert_auth", "peer_key_file", "peer_trusted_ca_file", "proxy",
                     "proxy_dial_timeout", "proxy_failure_wait", "proxy_read_timeout", "proxy_refresh_interval",
                     "proxy_write_timeout", "snapshot_count", "strict_reconfig_check", "trusted_ca_file", "wal_dir"]
        return names.map { Field($0, types[$0] ?? .string) }
    }()

    static let fleet: [Field] = {
        let types: [String: FieldType] = [
            "disable_engine": .bool, "engine_reconcile_interval": .float, "etcd_request_timeout": .float,
            "token_limit": .int, "verbosity": .int, "verify_units": .bool,
        ]
        let names = ["agent_ttl", "authorized_keys_file", "disable_engine", "engine_reconcile_interval",
                     "etcd_cafile", "etcd_certfile", "etcd_keyfile", "etcd_key_prefix", "etcd_request_timeout",
                     "etcd_servers", "etcd_username", "etcd_password", "metadata", "public_ip", "token_limit",
                     "verbosity", "verify_units"]
        return names.map { Field($0, types[$0] ?? .string) }
    }()

    static let flannel = strings("etcd_endpoints", "etcd_cafile", "etcd_certfile", "etcd_keyfile", "etcd_prefix",
                                 "etcd_username", "etcd_password", "ip_masq", "subnet_file", "interface", "public_ip")
    static let locksmith = strings("endpoint", "etcd_cafile", "etcd_certfile", "etcd_keyfile", "etcd_username",
                                   "etcd_password", "group", "window_start", "window_length")
    static let oem = strings("id", "name", "version_id", "home_url", "bug_report_url")
    static let update = strings("reboot_strategy", "group", "server")

    static let unit: [Field] = [
        Field("name", .string), Field("runtime", .bool), Field("enable", .bool), Field("content", .string),
        Field("command", .string), Field("mask", .bool),
        Field("drop_ins", .structureList([Field("name", .string), Field("content", .string)])),
    ]

    static let writeFile = strings("encoding", "content", "owner", "path", "permissions")

    static let user: [Field] = [
        Field("name", .string), Field("passwd", .string), Field("groups", .stringList), Field("homedir", .string),
        Field("no_create_home", .bool), Field("primary_group", .string), Field("gecos", .string),
        Field("ssh_authorized_keys", .stringList),
        Field("coreos_ssh_import_github", .string, deprecated: "it will be removed in a future release"),
        Field("coreos_ssh_import_github_users", .stringList, deprecated: "it will be removed in a future release"),
        Field("coreos_ssh_import_url", .string, deprecated: "it will be removed in a future release"),
        Field("system", .bool), Field("no_user_group", .bool), Field("no_log_init", .bool), Field("shell", .string),
    ]

    /// `coreos.etcd` is current here: unlike Container Linux, this image ships etcd.
    static let coreos: [Field] = [
        Field("etcd", .structure(etcd)),
        Field("etcd2", .structure(etcd2), deprecated: "etcd2 is no longer shipped in this image; use etcd"),
        Field("flannel", .structure(flannel)),
        Field("fleet", .structure(fleet), deprecated: "fleet is no longer shipped in this image"),
        Field("locksmith", .structure(locksmith)),
        Field("oem", .structure(oem)),
        Field("update", .structure(update)),
        Field("units", .structureList(unit)),
    ]

    public static let document: [Field] = [
        Field("coreos", .structure(coreos)),
        Field("ssh_authorized_keys", .stringList),
        Field("hostname", .string),
        Field("users", .structureList(user)),
        Field("write_files", .structureList(writeFile)),
        Field("manage_etc_hosts", .string),
    ]
}
