import Foundation
import Support

/// What `build image` produced, written as build.json and printed by `--json`.
public struct BuildReport: Codable, Sendable {
    public struct OutputFile: Codable, Sendable {
        public let name: String
        public let path: String
        public let role: String
        public let bytes: UInt64
        public let sha256: String
    }

    public struct Verity: Codable, Sendable {
        public let rootHash: String
        public let salt: String
        public let hashOffset: UInt64
        public let dataBlocks: UInt64
    }

    public struct UsrFilesystem: Codable, Sendable {
        public let type: String
        public let imageBytes: UInt64
        public let contentBytes: UInt64
        public let compressionRatio: Double
    }

    public struct CacheSummary: Codable, Sendable {
        public let hits: [String]
        public let misses: [String]
    }

    public var board: String
    public var version: String
    public var sourceDateEpoch: Int
    public var outputDirectory: String
    public var kernelVersion: String
    public var kernelCommandLine: String
    public var verity: Verity
    public var usr: UsrFilesystem
    public var files: [OutputFile]
    /// Locked Debian versions the mirror no longer had (`locked` → `installed`); empty when the
    /// lock was honoured.
    public var debianLockDrift: [LockDrift]
    public var cache: CacheSummary
    public var timings: [ProgressReporter.StepTiming]
    public var totalSeconds: Double

    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }
}

/// The small text files next to the image, in the formats CoreOS tools and pipelines read.
public enum ReleaseFiles {
    /// `version.txt`: CoreOS's `KEY=value` lines, keyed by the board's prefix (COREOS_VERSION=…).
    public static func versionText(prefix: String, version: String, board: String, sdkVersion: String) throws -> String {
        let numbers = version.split(separator: "+", maxSplits: 1)[0].split(separator: ".")
        guard numbers.count == 3, numbers.allSatisfy({ Int($0) != nil }) else {
            throw SupportError("version '\(version)' is not of the form MAJOR.MINOR.PATCH (e.g. 1.2.0)")
        }
        let key = prefix.uppercased().replacingOccurrences(of: "-", with: "_")
        return """
        \(key)_BUILD=\(numbers[0])
        \(key)_BRANCH=\(numbers[1])
        \(key)_PATCH=\(numbers[2])
        \(key)_VERSION=\(version)
        \(key)_VERSION_ID=\(version.split(separator: "+")[0])
        \(key)_BUILD_ID=""
        \(key)_SDK_VERSION=\(sdkVersion)
        \(key)_BOARD=\(board)

        """
    }

    /// `<image>.DIGESTS`: sha256 and sha512 of the image, in the `HASH  name` form sha*sum prints.
    public static func digestsText(fileName: String, sha256: String, sha512: String) -> String {
        "# SHA256 HASH\n\(sha256)  \(fileName)\n# SHA512 HASH\n\(sha512)  \(fileName)\n"
    }

    /// `/usr/lib/os-release` of the image.
    public static func osRelease(id: String, name: String, version: String, board: String) -> String {
        """
        NAME="\(name)"
        ID=\(id)
        ID_LIKE=debian
        VERSION=\(version)
        VERSION_ID=\(version.split(separator: "+")[0])
        BUILD_ID=\(board)-\(version)
        PRETTY_NAME="\(name) \(version)"

        """
    }
}
