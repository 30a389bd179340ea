import CArchive
import Foundation

/// One member of an archive, as a value: what `ArchiveReader` reports and `ArchiveWriter` records.
public struct ArchiveEntry: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case regular
        case directory
        case symlink(target: String)
        /// Another name for an earlier member, whose path the target is.
        case hardlink(target: String)
        case characterDevice(major: UInt32, minor: UInt32)
        case blockDevice(major: UInt32, minor: UInt32)
        case fifo
        case socket

        public var isDevice: Bool {
            switch self {
            case .characterDevice, .blockDevice: return true
            default: return false
            }
        }
    }

    /// As stored, e.g. `./etc/hostname` in a tarball or `bin/busybox` in a cpio.
    public var path: String
    public var kind: Kind
    /// Permission bits, including set-user-ID, set-group-ID and sticky: `0o4755`.
    public var permissions: UInt32
    public var owner: Int
    public var group: Int
    /// Seconds since the epoch; the writer stores no sub-second part.
    public var modificationTime: Int
    /// Bytes of content as read; the writer takes it from the contents it is given.
    public var size: Int
    /// Recorded as given (cpio keeps it; 0 lets the format choose).
    public var inode: Int64
    public var linkCount: UInt32

    public init(path: String, kind: Kind, permissions: UInt32, owner: Int = 0, group: Int = 0,
                modificationTime: Int = 0, size: Int = 0, inode: Int64 = 0, linkCount: UInt32 = 1) {
        self.path = path
        self.kind = kind
        self.permissions = permissions
        self.owner = owner
        self.group = group
        self.modificationTime = modificationTime
        self.size = size
        self.inode = inode
        self.linkCount = linkCount
    }
}

/// libarchive's AE_IF* file types (macros with casts, which Swift does not import).
enum FileType {
    static let mask: UInt32 = 0o170000
    static let fifo: UInt32 = 0o010000
    static let characterDevice: UInt32 = 0o020000
    static let directory: UInt32 = 0o040000
    static let blockDevice: UInt32 = 0o060000
    static let regular: UInt32 = 0o100000
    static let symlink: UInt32 = 0o120000
    static let socket: UInt32 = 0o140000
}

extension ArchiveEntry {
    /// Reads libarchive's entry; nil for a file type this type cannot name.
    init?(_ raw: OpaquePointer, path: String) {
        let kind: Kind
        let type = UInt32(archive_entry_filetype(raw)) & FileType.mask
        if let target = archive_entry_hardlink(raw) {
            kind = .hardlink(target: String(cString: target))
        } else {
            switch type {
            case FileType.regular: kind = .regular
            case FileType.directory: kind = .directory
            case FileType.symlink: kind = .symlink(target: archive_entry_symlink(raw).map { String(cString: $0) } ?? "")
            case FileType.characterDevice:
                kind = .characterDevice(major: UInt32(archive_entry_rdevmajor(raw)), minor: UInt32(archive_entry_rdevminor(raw)))
            case FileType.blockDevice:
                kind = .blockDevice(major: UInt32(archive_entry_rdevmajor(raw)), minor: UInt32(archive_entry_rdevminor(raw)))
            case FileType.fifo: kind = .fifo
            case FileType.socket: kind = .socket
            default: return nil
            }
        }
        self.init(path: path, kind: kind, permissions: UInt32(archive_entry_perm(raw)),
                  owner: Int(archive_entry_uid(raw)), group: Int(archive_entry_gid(raw)),
                  modificationTime: Int(archive_entry_mtime(raw)), size: Int(archive_entry_size(raw)),
                  inode: archive_entry_ino64(raw), linkCount: archive_entry_nlink(raw))
    }

    /// Fills libarchive's entry, with `size` bytes of content to follow.
    func fill(_ raw: OpaquePointer, size: Int) {
        archive_entry_set_pathname(raw, path)
        archive_entry_set_uid(raw, la_int64_t(owner))
        archive_entry_set_gid(raw, la_int64_t(group))
        archive_entry_set_mtime(raw, time_t(modificationTime), 0)
        archive_entry_set_ino64(raw, inode)
        archive_entry_set_nlink(raw, linkCount)
        switch kind {
        case .regular: archive_entry_set_filetype(raw, FileType.regular)
        case .directory: archive_entry_set_filetype(raw, FileType.directory)
        case .symlink(let target):
            archive_entry_set_filetype(raw, FileType.symlink)
            archive_entry_set_symlink(raw, target)
        case .hardlink(let target):
            archive_entry_set_filetype(raw, FileType.regular)
            archive_entry_set_hardlink(raw, target)
        case .characterDevice(let major, let minor):
            archive_entry_set_filetype(raw, FileType.characterDevice)
            archive_entry_set_rdevmajor(raw, dev_t(major))
            archive_entry_set_rdevminor(raw, dev_t(minor))
        case .blockDevice(let major, let minor):
            archive_entry_set_filetype(raw, FileType.blockDevice)
            archive_entry_set_rdevmajor(raw, dev_t(major))
            archive_entry_set_rdevminor(raw, dev_t(minor))
        case .fifo: archive_entry_set_filetype(raw, FileType.fifo)
        case .socket: archive_entry_set_filetype(raw, FileType.socket)
        }
        archive_entry_set_perm(raw, mode_t(permissions))
        archive_entry_set_size(raw, la_int64_t(size))
    }
}
