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
