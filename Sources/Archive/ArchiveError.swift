import CArchive
import Support

/// An archive that cannot be read, written or extracted: the archive file, the entry concerned,
/// what was being done and why (libarchive's own message, or the safety check that refused it).
public struct ArchiveError: ReportableError, Sendable, Equatable {
    public let file: String
    /// The entry's path as the archive spells it; nil when the failure concerns no one entry.
    public let entry: String?
    /// "reading the data of", "extracting", "opening".
    public let action: String
    public let reason: String

    public init(file: String, entry: String? = nil, action: String, reason: String) {
        self.file = file
        self.entry = entry
        self.action = action
        self.reason = reason
    }

    public var details: ErrorDetails {
        ErrorDetails(message: [action, entry].compactMap { $0 }.joined(separator: " ") + ": " + reason, file: file)
    }

    /// Throws, with the message libarchive left on `handle`, unless `status` is success or a warning
    /// (ARCHIVE_RETRY counts as a failure: an untrusted archive is not read past damage).
    static func check(_ status: Int32, _ handle: OpaquePointer, file: String, _ action: String,
                      entry: String? = nil) throws {
        guard status < ARCHIVE_WARN || status == ARCHIVE_RETRY else { return }
        let message = archive_error_string(handle).map { String(cString: $0) } ?? "error \(status)"
        throw ArchiveError(file: file, entry: entry, action: action, reason: "libarchive: \(message)")
    }

    static func outOfMemory(_ file: String, _ action: String) -> ArchiveError {
        ArchiveError(file: file, action: action, reason: "libarchive: out of memory")
    }
}
