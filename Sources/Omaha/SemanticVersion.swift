/// A Semantic Versioning 2.0.0 version, ordered by precedence (semver.org §11): numeric
/// major.minor.patch, then a pre-release sorts before its release, identifier by identifier;
/// build metadata plays no part, in ordering or in equality.
///
/// Parsing is strict, as blang/semver's `Make` is, which Nebraska uses to decide whether to offer
/// an update (update-agent.md §4.3 item 4): exactly three numeric parts without leading zeros, so
/// "1.2", "1", "v1.2.3" and ChromeOS's "1.2.3.4" are not versions. `lenient` then gives 0.0.0 for
/// them, as Nebraska's ignored parse error does. CoreOS versions (4000.0.0) are strict semver.
public struct SemanticVersion: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let major: UInt64
    public let minor: UInt64
    public let patch: UInt64
    public let prerelease: [PrereleaseIdentifier]
    /// Kept for display only.
    public let build: [String]

    public enum PrereleaseIdentifier: Sendable, Hashable, Comparable, CustomStringConvertible {
        case numeric(UInt64)
        case alphanumeric(String)

        /// §11.4: numbers compare numerically, text by ASCII, and numbers sort first.
        public static func < (a: Self, b: Self) -> Bool {
            switch (a, b) {
            case let (.numeric(x), .numeric(y)): x < y
            case let (.alphanumeric(x), .alphanumeric(y)): x.utf8.lexicographicallyPrecedes(y.utf8)
            case (.numeric, .alphanumeric): true
            case (.alphanumeric, _): false
            }
        }

        public var description: String {
            switch self {
            case .numeric(let value): String(value)
            case .alphanumeric(let text): text
            }
        }
    }

    public init(major: UInt64, minor: UInt64, patch: UInt64, prerelease: [PrereleaseIdentifier] = [], build: [String] = []) {
        self.major = major
        self.minor = minor
        self.patch = patch
        self.prerelease = prerelease
        self.build = build
    }

    /// nil unless `text` is a semver 2.0.0 version (see the type's comment).
    public init?(_ text: String) {
        var rest = Substring(text)
        var build: [String] = []
        if let plus = rest.firstIndex(of: "+") {
            guard let identifiers = Self.identifiers(rest[rest.index(after: plus)...], numericWithoutLeadingZeros: false) else { return nil }
            build = identifiers.map(String.init)
            rest = rest[..<plus]
        }
        var prerelease: [PrereleaseIdentifier] = []
        // The first `-` starts the pre-release; later ones belong to its identifiers.
        if let dash = rest.firstIndex(of: "-") {
            guard let identifiers = Self.identifiers(rest[rest.index(after: dash)...], numericWithoutLeadingZeros: true) else { return nil }
            prerelease = identifiers.map { Self.number($0).map(PrereleaseIdentifier.numeric) ?? .alphanumeric(String($0)) }
            rest = rest[..<dash]
        }
        let core = rest.split(separator: ".", omittingEmptySubsequences: false)
        guard core.count == 3, let major = Self.number(core[0]), let minor = Self.number(core[1]),
              let patch = Self.number(core[2]) else { return nil }
        self.init(major: major, minor: minor, patch: patch, prerelease: prerelease, build: build)
    }

    /// Nebraska's reading: whatever does not parse counts as 0.0.0, so a client with a garbled
    /// version is offered the update.
    public static func lenient(_ text: String) -> SemanticVersion {
        SemanticVersion(text) ?? SemanticVersion(major: 0, minor: 0, patch: 0)
    }

    public static func < (a: Self, b: Self) -> Bool {
        if (a.major, a.minor, a.patch) != (b.major, b.minor, b.patch) {
            return (a.major, a.minor, a.patch) < (b.major, b.minor, b.patch)
        }
        // §11.3: a pre-release precedes its release.
        switch (a.prerelease.isEmpty, b.prerelease.isEmpty) {
        case (true, _): return false
        case (false, true): return true
        case (false, false): return a.prerelease.lexicographicallyPrecedes(b.prerelease)
        }
    }

    public static func == (a: Self, b: Self) -> Bool {
        (a.major, a.minor, a.patch) == (b.major, b.minor, b.patch) && a.prerelease == b.prerelease
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(major)
        hasher.combine(minor)
        hasher.combine(patch)
        hasher.combine(prerelease)
    }

    public var description: String {
        var text = "\(major).\(minor).\(patch)"
        if !prerelease.isEmpty { text += "-" + prerelease.map(\.description).joined(separator: ".") }
        if !build.isEmpty { text += "+" + build.joined(separator: ".") }
        return text
    }

    /// Dot-separated, each non-empty and of [0-9A-Za-z-] (§9, §10); pre-release numbers may not
    /// have leading zeros.
    private static func identifiers(_ text: Substring, numericWithoutLeadingZeros: Bool) -> [Substring]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        for part in parts {
            guard !part.isEmpty, part.utf8.allSatisfy({ isDigit($0) || isLetter($0) || $0 == UInt8(ascii: "-") }) else { return nil }
            if numericWithoutLeadingZeros, part.utf8.allSatisfy(isDigit), number(part) == nil { return nil }
        }
        return parts
    }

    /// A number without leading zeros (§2) that fits 64 bits, as blang/semver reads it.
    private static func number(_ text: Substring) -> UInt64? {
        guard !text.isEmpty, text.utf8.allSatisfy(isDigit), text == "0" || text.first != "0" else { return nil }
        return UInt64(text)
    }

    private static func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }

    private static func isLetter(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
    }
}
