import CArchive
import Foundation

/// Writes an archive entry by entry, exactly as told: the same entries and contents give the same bytes.
public final class ArchiveWriter {
    public enum Format: Sendable {
        /// The "new" portable cpio the kernel unpacks as an initramfs.
        case cpioNewc
        /// ustar, with a pax header only for what ustar cannot hold.
        case tar
    }

    /// No gzip: libarchive's gzip header carries the time of writing.
    public enum Compression: Sendable {
        case none, zstd
    }

    public let file: URL
    private let archive: OpaquePointer

    /// Creates (or truncates) `file`.
    public init(file: URL, format: Format, compression: Compression = .none) throws {
        guard let archive = archive_write_new() else { throw ArchiveError.outOfMemory(file.path, "opening") }
        self.file = file
        self.archive = archive
        switch format {
        case .cpioNewc: try check(archive_write_set_format_cpio_newc(archive), "choosing the newc cpio format")
        case .tar: try check(archive_write_set_format_pax_restricted(archive), "choosing the tar format")
        }
        switch compression {
        case .none: break
        case .zstd: try check(archive_write_add_filter_zstd(archive), "adding zstd compression")
        }
        try check(archive_write_open_filename(archive, file.path), "opening")
    }

    deinit { archive_write_free(archive) }

    /// Adds `entry`; only a regular file has `contents`, and its size is theirs.
    public func write(_ entry: ArchiveEntry, contents: Data = Data()) throws {
        guard contents.isEmpty || entry.kind == .regular else {
            throw ArchiveError(file: file.path, entry: entry.path, action: "writing", reason: "only a regular file has contents")
        }
        guard let raw = archive_entry_new() else { throw ArchiveError.outOfMemory(file.path, "writing \(entry.path)") }
        defer { archive_entry_free(raw) }
        entry.fill(raw, size: contents.count)
        try check(archive_write_header(archive, raw), "writing", entry: entry.path)
        guard !contents.isEmpty else { return }
        let written = contents.withUnsafeBytes { archive_write_data(archive, $0.baseAddress, $0.count) }
        guard written == contents.count else {
            try check(ARCHIVE_FATAL, "writing the data of", entry: entry.path)
            return
        }
    }

    /// Writes the trailer and flushes the file; no entries can follow.
    public func finish() throws {
        try check(archive_write_close(archive), "closing")
    }

    private func check(_ status: Int32, _ action: String, entry: String? = nil) throws {
        try ArchiveError.check(status, archive, file: file.path, action, entry: entry)
    }
}
