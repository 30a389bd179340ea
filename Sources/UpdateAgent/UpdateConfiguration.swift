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
    /// `TIME_SCALE`: every wait of update_engine and locksmithd is divided by it (1 to 3600), so a
    /// test can watch a 45-minute schedule in seconds. 1 unless set.
    public var timeScale: Double
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
        var timeScale = 1.0
        if let text = values["TIME_SCALE"] {
            if let scale = Double(text), scale >= 1, scale <= 3600 { timeScale = scale } else {
                warnings.append("TIME_SCALE=\(text): not a number from 1 to 3600, ignored")
            }
        }
        return UpdateConfiguration(
            server: values["SERVER"].flatMap { $0.isEmpty ? nil : $0 },
            group: values["GROUP"].flatMap { $0.isEmpty ? nil : $0 } ?? "stable",
            version: values["\(prefix)_RELEASE_VERSION"] ?? "0.0.0",
            board: values["\(prefix)_RELEASE_BOARD"] ?? "",
            appID: values["\(prefix)_RELEASE_APPID"] ?? OmahaRequest.App.defaultAppID,
            timeScale: timeScale, warnings: warnings)
    }
}
