import Foundation

/// One installed Debian package, as dpkg's status file records it.
public struct InstalledPackage: Sendable, Hashable, Codable, Comparable {
    public let name: String
    public let version: String
    public let architecture: String

    public init(name: String, version: String, architecture: String) {
        self.name = name
        self.version = version
        self.architecture = architecture
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.name < rhs.name }
}

/// Reads `var/lib/dpkg/status` (RFC 822-style stanzas) before the package manager is removed
/// from the image, so the package list and the lock file know exactly what went in.
public enum DebianPackageDatabase {
    public static func installedPackages(statusFile: URL) throws -> [InstalledPackage] {
        let text = try String(contentsOf: statusFile, encoding: .utf8)
        return parseStatus(text)
    }

    public static func parseStatus(_ text: String) -> [InstalledPackage] {
        var packages: [InstalledPackage] = []
        for stanza in text.components(separatedBy: "\n\n") {
            var fields: [String: String] = [:]
            for line in stanza.split(separator: "\n") where !line.hasPrefix(" ") {
                guard let colon = line.firstIndex(of: ":") else { continue }
                fields[String(line[..<colon])] = line[line.index(after: colon)...]
                    .trimmingCharacters(in: .whitespaces)
            }
            guard let name = fields["Package"], let version = fields["Version"],
                  fields["Status"]?.hasSuffix(" installed") == true else { continue }
            packages.append(InstalledPackage(name: name, version: version,
                                             architecture: fields["Architecture"] ?? "all"))
        }
        return packages.sorted()
    }
}
