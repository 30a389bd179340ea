import Foundation

/// A deterministic walk of a directory tree with `lstat` facts, so every builder sees entries in
/// the same (byte-wise sorted, parents first) order whatever order the host's `readdir` returns.
public enum FileTree {
    public struct InodeID: Hashable, Sendable { public let device: UInt64; public let inode: UInt64 }

    public enum Kind: Equatable, Sendable { case directory, regular, symlink, other }

    public struct Entry: Sendable {
        /// Path relative to the walked root, without a leading slash; "" is the root itself.
        public let path: String
        public let name: String
        /// The entry on disk: the root's URL with `path` appended.
        public let url: URL
        public let kind: Kind
        /// Permission bits (and setuid, setgid, sticky).
        public let permissions: mode_t
        public let size: UInt64
        public let modificationTime: Int
        public let accessTime: Int
        public let inode: InodeID
        public let linkCount: UInt64
    }

    /// Calls `visit` for every entry below `root` (not for `root` itself), parents before children.
    public static func walk(_ root: URL, _ visit: (Entry) throws -> Void) throws {
        let rootEntry = try Self.rootEntry(root)
        guard rootEntry.kind == .directory else { throw SupportError(file: root.path, "not a directory") }
        try walkChildren(of: root, relative: "", visit)
    }

    /// Every entry below `root`, parents before children.
    public static func entries(_ root: URL) throws -> [Entry] {
        var entries: [Entry] = []
        try walk(root) { entries.append($0) }
        return entries
    }

    /// The root directory's own facts (its mtime and kind).
    public static func rootEntry(_ root: URL) throws -> Entry {
        try entry(at: root, path: "", name: "")
    }

    /// Names in `directory`, sorted by their bytes (what C tools' `alphasort` does in the C locale).
    static func sortedNames(in directory: URL) throws -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: directory.path)
                .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        } catch {
            throw SupportError(file: directory.path, "cannot list the directory: \(error.localizedDescription)")
        }
    }

    private static func walkChildren(of directory: URL, relative: String,
                                     _ visit: (Entry) throws -> Void) throws {
        for name in try sortedNames(in: directory) {
            let childPath = relative.isEmpty ? name : relative + "/" + name
            let child = try entry(at: directory.appendingPathComponent(name), path: childPath, name: name)
            try visit(child)
            if child.kind == .directory {
                try walkChildren(of: child.url, relative: childPath, visit)
            }
        }
    }

    private static func entry(at url: URL, path: String, name: String) throws -> Entry {
        var info = stat()
        guard lstat(url.path, &info) == 0 else {
            throw SupportError(file: url.path, "cannot stat: \(String(cString: strerror(errno)))")
        }
        let kind: Kind
        switch info.st_mode & S_IFMT {
        case S_IFDIR: kind = .directory
        case S_IFREG: kind = .regular
        case S_IFLNK: kind = .symlink
        default: kind = .other
        }
        return Entry(path: path, name: name, url: url, kind: kind, permissions: info.st_mode & 0o7777,
                     size: UInt64(info.st_size), modificationTime: Int(info.st_mtim.tv_sec),
                     accessTime: Int(info.st_atim.tv_sec),
                     inode: InodeID(device: UInt64(info.st_dev), inode: UInt64(info.st_ino)),
                     linkCount: UInt64(info.st_nlink))
    }
}
