import Foundation
import Support

/// How much a directory tree holds, as a filesystem would store it: the byte length of every
/// regular file (hard links counted once) plus every symlink's target. The numerator of a
/// compression ratio and the figure "content needs more than …" errors quote.
public struct TreeSize: Sendable, Equatable, Codable {
    public var contentBytes: UInt64 = 0
    public var files = 0
    public var directories = 0
    public var symlinks = 0
    public var others = 0

    public init() {}

    /// Counts `directory` (not following symlinks); the root directory itself is not counted.
    public static func measure(_ directory: URL) throws -> TreeSize {
        var size = TreeSize()
        var seenInodes = Set<FileTree.InodeID>()
        try FileTree.walk(directory) { entry in
            switch entry.kind {
            case .directory: size.directories += 1
            case .symlink: size.symlinks += 1; size.contentBytes += entry.size
            case .other: size.others += 1
            case .regular:
                size.files += 1
                if entry.linkCount < 2 || seenInodes.insert(entry.inode).inserted {
                    size.contentBytes += entry.size
                }
            }
        }
        return size
    }

    public var entries: Int { files + directories + symlinks + others }

    /// `contentBytes / imageBytes`, rounded to two decimals; 0 for an empty image.
    public func compressionRatio(imageBytes: UInt64) -> Double {
        imageBytes == 0 ? 0 : (Double(contentBytes) / Double(imageBytes) * 100).rounded() / 100
    }
}

/// A deterministic walk of a directory tree with `lstat` facts, so every builder sees entries in
/// the same (byte-wise sorted, parents first) order whatever order the host's `readdir` returns.
enum FileTree {
    struct InodeID: Hashable { let device: UInt64; let inode: UInt64 }

    enum Kind: Equatable { case directory, regular, symlink, other }

    struct Entry {
        /// Path relative to the walked root, without a leading slash; "" is the root itself.
        let path: String
        let name: String
        let kind: Kind
        let size: UInt64
        let modificationTime: Int
        let inode: InodeID
        let linkCount: UInt64
    }

    /// Calls `visit` for every entry below `root` (not for `root` itself), parents before children.
    static func walk(_ root: URL, _ visit: (Entry) throws -> Void) throws {
        let rootEntry = try entry(at: root.path, path: "", name: "")
        guard rootEntry.kind == .directory else {
            throw FilesystemError.invalidInput("\(root.path) is not a directory")
        }
        try walkChildren(of: root.path, relative: "", visit)
    }

    /// The root directory's own facts (its mtime and kind).
    static func rootEntry(_ root: URL) throws -> Entry {
        try entry(at: root.path, path: "", name: "")
    }

    /// Names in `directory`, sorted by their bytes (what C tools' `alphasort` does in the C locale).
    static func sortedNames(in directory: String) throws -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: directory)
                .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        } catch {
            throw FilesystemError.invalidInput("cannot list \(directory): \(error.localizedDescription)")
        }
    }

    private static func walkChildren(of absolute: String, relative: String,
                                     _ visit: (Entry) throws -> Void) throws {
        for name in try sortedNames(in: absolute) {
            let childPath = relative.isEmpty ? name : relative + "/" + name
            let child = try entry(at: absolute + "/" + name, path: childPath, name: name)
            try visit(child)
            if child.kind == .directory {
                try walkChildren(of: absolute + "/" + name, relative: childPath, visit)
            }
        }
    }

    private static func entry(at absolute: String, path: String, name: String) throws -> Entry {
        var info = stat()
        guard lstat(absolute, &info) == 0 else {
            throw FilesystemError.invalidInput("cannot stat \(absolute): \(String(cString: strerror(errno)))")
        }
        let kind: Kind
        switch info.st_mode & S_IFMT {
        case S_IFDIR: kind = .directory
        case S_IFREG: kind = .regular
        case S_IFLNK: kind = .symlink
        default: kind = .other
        }
        return Entry(path: path, name: name, kind: kind, size: UInt64(info.st_size),
                     modificationTime: Int(info.st_mtim.tv_sec),
                     inode: InodeID(device: UInt64(info.st_dev), inode: UInt64(info.st_ino)),
                     linkCount: UInt64(info.st_nlink))
    }
}
