import CArchive
import Foundation

/// Reads an archive in any format and compression libarchive knows (tar, cpio, ar as in .deb; gzip,
/// xz, zstd, ...) in one pass, first entry to last: step with `next()`, or `contents(of:)`, or
/// `extract(into:)` — each continues where the previous call stopped.
public final class ArchiveReader {
    public let file: URL
    private let archive: OpaquePointer
    /// The path of the entry the reader is at, whose data `readContents()` reads.
    private var current: String?

    public init(file: URL) throws {
        guard let archive = archive_read_new() else { throw ArchiveError.outOfMemory(file.path, "opening") }
        self.file = file
        self.archive = archive
        archive_read_support_filter_all(archive)
        archive_read_support_format_all(archive)
        try ArchiveError.check(archive_read_open_filename(archive, file.path, 1 << 20), archive, file: file.path, "opening")
    }

    deinit { archive_read_free(archive) }

    /// libarchive and the compression libraries it was built with, for cache keys.
    public static var libraryVersion: String { String(cString: archive_version_details()) }

    /// The next entry, or nil after the last one.
    public func next() throws -> ArchiveEntry? {
        guard let raw = try nextHeader() else { return nil }
        return try entry(raw)
    }

    /// All the data of the entry `next()` returned last: a regular file's contents, empty for the rest.
    public func readContents() throws -> Data {
        guard let current else {
            throw ArchiveError(file: file.path, action: "reading data", reason: "the reader is at no entry (call next() first)")
        }
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = archive_read_data(archive, &buffer, buffer.count)
            if count == 0 { return data }
            guard count > 0 else {
                try ArchiveError.check(Int32(count), archive, file: file.path, "reading the data of", entry: current)
                return data
            }
            data.append(contentsOf: buffer[0..<count])
        }
    }

    /// The data of the first entry at `path`, spelled as the archive does (`./var/lib/dpkg/status`),
    /// or nil when no entry has that path.
    public func contents(of path: String) throws -> Data? {
        while try nextHeader() != nil {
            if current == path { return try readContents() }
        }
        return nil
    }

    /// Extracts every entry below `destination`, keeping owners (when running as root), modes,
    /// symlinks, hard links and extended attributes; modification times later than `latest` become
    /// `latest`; entries `skip` returns true for are left out.
    ///
    /// Archives are untrusted: an entry or hard-link target that is absolute or has a `..`
    /// component is refused before anything is written for it, and libarchive refuses to write
    /// through a symlink — one the archive made, or one in `destination` (it is resolved first).
    public func extract(into destination: URL, clampingTimesTo latest: Int? = nil,
                        skipping skip: (ArchiveEntry) -> Bool = { _ in false }) throws {
        guard let disk = archive_write_disk_new() else { throw ArchiveError.outOfMemory(file.path, "extracting") }
        defer { archive_write_free(disk) }
        // Names are checked here, relative, before the destination is prefixed: that is why
        // absolute paths are allowed in the flags.
        archive_write_disk_set_options(disk, ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME
            | ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS)
        // The symlink check walks every component, so the destination itself must be symlink-free.
        let destination = destination.resolvingSymlinksInPath()
        while let raw = try nextHeader() {
            let entry = try entry(raw)
            try requireInside(entry.path, entry: entry.path)
            if skip(entry) { continue }
            archive_entry_set_pathname(raw, destination.appendingPathComponent(entry.path).path)
            if case .hardlink(let target) = entry.kind {
                try requireInside(target, entry: entry.path)
                archive_entry_set_hardlink(raw, destination.appendingPathComponent(target).path)
            }
            if let latest, entry.modificationTime > latest { archive_entry_set_mtime(raw, time_t(latest), 0) }
            try ArchiveError.check(archive_write_header(disk, raw), disk, file: file.path, "extracting", entry: entry.path)
            if entry.size > 0 { try copyData(of: entry.path, to: disk) }
            try ArchiveError.check(archive_write_finish_entry(disk), disk, file: file.path, "extracting", entry: entry.path)
        }
    }

    /// Moves to the next header; nil at the end of the archive.
    private func nextHeader() throws -> OpaquePointer? {
        var raw: OpaquePointer?
        let status = archive_read_next_header(archive, &raw)
        let previous = current
        current = nil
        if status == ARCHIVE_EOF { return nil }
        try ArchiveError.check(status, archive, file: file.path,
                               previous == nil ? "reading the first entry" : "reading the entry after", entry: previous)
        guard let raw else { return nil }
        guard let name = archive_entry_pathname(raw) else {
            throw ArchiveError(file: file.path, entry: previous, action: "reading the entry after",
                               reason: "its name cannot be read in this locale")
        }
        current = String(cString: name)
        return raw
    }

    private func entry(_ raw: OpaquePointer) throws -> ArchiveEntry {
        let path = current ?? ""
        guard let entry = ArchiveEntry(raw, path: path) else {
            let type = String(UInt32(archive_entry_filetype(raw)), radix: 8)
            throw ArchiveError(file: file.path, entry: path, action: "reading", reason: "unknown file type 0o\(type)")
        }
        return entry
    }

    private func requireInside(_ path: String, entry: String) throws {
        guard !path.hasPrefix("/"), !path.split(separator: "/").contains("..") else {
            throw ArchiveError(file: file.path, entry: entry, action: "extracting",
                               reason: "it points outside the destination (\(path))")
        }
    }

    private func copyData(of path: String, to disk: OpaquePointer) throws {
        var buffer: UnsafeRawPointer?
        var size = 0
        var offset: la_int64_t = 0
        while true {
            let status = archive_read_data_block(archive, &buffer, &size, &offset)
            if status == ARCHIVE_EOF { return }
            try ArchiveError.check(status, archive, file: file.path, "reading the data of", entry: path)
            try ArchiveError.check(Int32(archive_write_data_block(disk, buffer, size, offset)), disk, file: file.path,
                                   "extracting", entry: path)
        }
    }
}
