import CArchive
import Foundation
import Support

/// Extracts a tarball (as mmdebstrap writes it) into a directory with libarchive, keeping owners,
/// modes, symlinks, hard links and extended attributes, and clamping timestamps to the build epoch.
public final class ArchiveExtractor {
    private let reader: OpaquePointer
    private let writer: OpaquePointer
    private let archiveURL: URL

    public init(archive: URL) throws {
        guard let reader = archive_read_new(), let writer = archive_write_disk_new() else {
            throw SupportError("libarchive: out of memory opening \(archive.path)")
        }
        self.reader = reader
        self.writer = writer
        self.archiveURL = archive
        archive_read_support_filter_all(reader)
        archive_read_support_format_all(reader)
        // Archives are untrusted: never write outside the destination or through its symlinks.
        // Entry names are checked in `extract` (they must be relative) before the destination is
        // prefixed, which is why absolute paths are allowed here.
        let flags = ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME
            | ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS
        archive_write_disk_set_options(writer, flags)
        try check(archive_read_open_filename(reader, archive.path, 1 << 20), reader, "opening")
    }

    /// libarchive and the compression libraries it was built with, for cache keys.
    public static var libraryVersion: String { String(cString: archive_version_details()) }

    deinit {
        archive_read_free(reader)
        archive_write_free(writer)
    }

    /// Extracts every entry below `destination`; mtimes later than `clampTo` become `clampTo`.
    public func extract(into destination: URL, clampTo epoch: Int) throws {
        // The symlink check walks every component, so the destination itself must be symlink-free.
        let destination = destination.resolvingSymlinksInPath()
        var entry: OpaquePointer?
        while true {
            let status = archive_read_next_header(reader, &entry)
            if status == ARCHIVE_EOF { break }
            try check(status, reader, "reading the next entry")
            guard let entry else { break }
            let name = String(cString: archive_entry_pathname(entry))
            try requireRelative(name, entry: name)
            // Device nodes (mmdebstrap adds /dev/null and friends) are skipped: /dev is devtmpfs at
            // boot, and a user namespace may not create them, so root and rootless builds agree.
            let type = archive_entry_filetype(entry)
            if type == S_IFCHR || type == S_IFBLK { continue }
            archive_entry_set_pathname(entry, destination.appendingPathComponent(name).path)
            if let link = archive_entry_hardlink(entry) {
                let linkName = String(cString: link)
                try requireRelative(linkName, entry: name)
                let target = destination.appendingPathComponent(linkName).path
                archive_entry_set_hardlink(entry, target)
            }
            if archive_entry_mtime(entry) > epoch { archive_entry_set_mtime(entry, time_t(epoch), 0) }
            try check(archive_write_header(writer, entry), writer, "writing \(name)")
            if archive_entry_size(entry) > 0 { try copyData(of: name) }
            try check(archive_write_finish_entry(writer), writer, "finishing \(name)")
        }
    }

    /// The content of the regular file `name` (as the archive spells it, e.g. `./var/lib/dpkg/status`),
    /// or nil when the archive has no such entry.
    public func contents(of name: String) throws -> Data? {
        var entry: OpaquePointer?
        while true {
            let status = archive_read_next_header(reader, &entry)
            if status == ARCHIVE_EOF { return nil }
            try check(status, reader, "reading the next entry")
            guard let entry, String(cString: archive_entry_pathname(entry)) == name else { continue }
            var data = Data()
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let count = archive_read_data(reader, &buffer, buffer.count)
                if count == 0 { return data }
                guard count > 0 else { try check(Int32(count), reader, "reading \(name)"); return data }
                data.append(contentsOf: buffer[0..<count])
            }
        }
    }

    private func requireRelative(_ path: String, entry: String) throws {
        guard !path.hasPrefix("/"), !path.split(separator: "/").contains("..") else {
            throw SupportError("libarchive: \(archiveURL.lastPathComponent): entry \(entry) points outside "
                               + "the destination (\(path))")
        }
    }

    private func copyData(of name: String) throws {
        var buffer: UnsafeRawPointer?
        var size = 0
        var offset: la_int64_t = 0
        while true {
            let status = archive_read_data_block(reader, &buffer, &size, &offset)
            if status == ARCHIVE_EOF { return }
            try check(status, reader, "reading data of \(name)")
            try check(Int32(archive_write_data_block(writer, buffer, size, offset)), writer,
                      "writing data of \(name)")
        }
    }

    private func check(_ status: Int32, _ archive: OpaquePointer, _ doing: String) throws {
        guard status < ARCHIVE_WARN else { return }
        let reason = archive_error_string(archive).map { String(cString: $0) } ?? "error \(status)"
        throw SupportError("libarchive: \(doing) in \(archiveURL.lastPathComponent): \(reason)")
    }
}
