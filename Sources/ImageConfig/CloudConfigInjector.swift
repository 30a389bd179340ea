import CloudConfig
import Disk
import Filesystems
import Foundation
import Support

/// What `coresdk inject cloud-config` did.
public struct InjectionResult: Sendable, Codable {
    public var image: String
    public var format: String
    public var partition: Int
    public var path: String
    public var bytes: Int
    public var keysAdded: Int
    public var bytesChanged: Int
    public var warnings: [String]
}

/// A cloud-config, key or image that cannot be injected, with the file (and line) at fault.
public struct InjectionError: ReportableError, Sendable {
    public let details: ErrorDetails
    /// The validator's findings when the config itself was refused.
    public let entries: [ValidationEntry]

    init(file: String, line: Int? = nil, partition: String? = nil, _ message: String, entries: [ValidationEntry] = []) {
        details = ErrorDetails(message: message, file: file, line: line, partition: partition)
        self.entries = entries
    }
}

/// Writes a validated cloud-config (plus SSH keys) as `cloud-config.yml` into a finished image's
/// OEM filesystem, which the image mounts at /usr/share/oem. Only the OEM partition's changed blocks
/// are written, through a journal, so other partitions stay byte-identical and an interrupted
/// injection can be undone.
public struct CloudConfigInjector {
    public static let fileName = "cloud-config.yml"
    public static let partitionLabel = "OEM"

    public let image: URL
    public var modificationTime: Int64

    public init(image: URL, modificationTime: Int64) {
        self.image = image
        self.modificationTime = modificationTime
    }

    /// The document as it will be written: validated, with the keys added. Throws before the image is opened.
    public static func prepare(config: URL, sshKeys: [URL]) throws -> (text: String, keysAdded: Int, warnings: [ValidationEntry]) {
        guard let data = FileManager.default.contents(atPath: config.path) else {
            throw InjectionError(file: config.path, "cannot read the file")
        }
        let report = Validator.validate([UInt8](data))
        if report.hasErrors {
            let lines = report.errors.map { "\(config.path):\($0.line): \($0.kind.rawValue): \($0.message)" }
            throw InjectionError(file: config.path, line: report.errors.first?.line, "not a valid cloud-config:\n" + lines.joined(separator: "\n"), entries: report.entries)
        }
        guard case .cloudConfig(let text) = UserData([UInt8](data)) else {
            throw InjectionError(file: config.path, line: 1, "the image's agent applies a #cloud-config document; this is not one")
        }
        var keys: [String] = []
        for file in sshKeys { keys += try readKeys(file) }
        let merged: String
        do { merged = try KeyMerging.adding(keys, to: text) } catch { throw InjectionError(file: config.path, "\(error)") }
        let added = CloudConfig.keyCount(merged) - CloudConfig.keyCount(text)
        return (merged, added, report.entries.filter { $0.kind != .error })
    }

    /// Public keys, one per line as in `authorized_keys`; blank lines and comments are skipped.
    static func readKeys(_ file: URL) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: file.path), let text = String(data: data, encoding: .utf8) else {
            throw InjectionError(file: file.path, "cannot read the key file")
        }
        var keys: [String] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let key = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if key.isEmpty || key.hasPrefix("#") { continue }
            if let problem = AuthorizedKey.problem(in: key) {
                throw InjectionError(file: file.path, line: index + 1, "not an SSH public key: \(problem)")
            }
            keys.append(key)
        }
        guard !keys.isEmpty else { throw InjectionError(file: file.path, "no SSH public key in the file") }
        return keys
    }

    public func inject(config: URL, sshKeys: [URL]) throws -> InjectionResult {
        let prepared = try Self.prepare(config: config, sshKeys: sshKeys)
        let disk = try DiskImage(image)
        let journal = WriteJournal(image: disk)
        try journal.rollBackInterruptedWrite()

        let gpt = try disk.readGPT()
        guard let oem = gpt.partition(labeled: Self.partitionLabel) else {
            throw InjectionError(file: image.path, "the image has no partition labelled \(Self.partitionLabel)")
        }
        let offset = oem.firstLBA * DiskLayout.sectorSize
        let size = (oem.lastLBA - oem.firstLBA + 1) * DiskLayout.sectorSize

        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("coresdk-inject-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let changes = try RangeEdit(disk: disk, scratch: scratch).edit(offset: offset, size: size, name: "oem") { copy in
            let editor = Ext4Editor(image: copy)
            guard try editor.label() == Self.partitionLabel else {
                throw InjectionError(file: image.path, partition: "partition \(oem.number) (\(Self.partitionLabel))", "does not hold an ext4 filesystem labelled \(Self.partitionLabel)")
            }
            try editor.replaceFile("/" + Self.fileName, with: Data(prepared.text.utf8), mode: 0o600,
                                   modificationTime: modificationTime)
        }
        try journal.apply(changes)
        return InjectionResult(image: disk.url.path, format: disk.format.rawValue, partition: oem.number,
                               path: "/usr/share/oem/\(Self.fileName)", bytes: prepared.text.utf8.count,
                               keysAdded: prepared.keysAdded, bytesChanged: changes.reduce(0) { $0 + $1.bytes.count },
                               warnings: prepared.warnings.map(\.description))
    }
}

extension CloudConfig {
    static func keyCount(_ text: String) -> Int { ((try? CloudConfig(parsing: text))?.sshAuthorizedKeys.count) ?? 0 }
}
