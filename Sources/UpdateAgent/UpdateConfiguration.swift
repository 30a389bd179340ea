import Omaha
import Payload

/// What the update engine reads at every check (spec update-agent.md §1.2): KEY=VALUE files,
/// the first that sets a key wins — `/etc/<os>/update.conf` (cloud-config's `coreos.update`
/// writes it), `/usr/share/<os>/update.conf` (the image's defaults), `/usr/share/<os>/release`
/// (what the build stamped: version, board, app id).
public struct UpdateConfiguration: Sendable, Equatable {
    /// The Omaha URL; nil when nothing sets it (then the agent does not check).
    public var server: String?
    public var group: String
    public var version: String
    public var board: String
    public var appID: String
    /// Lines that were not KEY=VALUE, as "file:line: reason", for the log; they change nothing.
    public var warnings: [String]

    public static func searchPath(os: String) -> [String] {
        ["/etc/\(os)/update.conf", "/usr/share/\(os)/update.conf", "/usr/share/\(os)/release"]
    }

    /// Reads the files of `searchPath(os:)` through `read` (nil: no such file).
    public static func load(os: String, read: (String) -> String?) -> UpdateConfiguration {
        let prefix = os.uppercased()
        var values: [String: String] = [:]
        var warnings: [String] = []
        for path in searchPath(os: os) {
            guard let text = read(path) else { continue }
            let parsed = KeyValueFile(text, path: path)
            warnings += parsed.warnings
            for (key, value) in parsed.values where values[key] == nil { values[key] = value }
        }
        return UpdateConfiguration(
            server: values["SERVER"].flatMap { $0.isEmpty ? nil : $0 },
            group: values["GROUP"].flatMap { $0.isEmpty ? nil : $0 } ?? "stable",
            version: values["\(prefix)_RELEASE_VERSION"] ?? "0.0.0",
            board: values["\(prefix)_RELEASE_BOARD"] ?? "",
            appID: values["\(prefix)_RELEASE_APPID"] ?? OmahaRequest.App.defaultAppID,
            warnings: warnings)
    }
}
