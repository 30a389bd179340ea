import Archive
import Foundation

/// Extracts a tarball (as mmdebstrap writes it) into a directory, keeping owners, modes, symlinks,
/// hard links and extended attributes, and clamping timestamps to the build epoch. The checks that
/// keep entries inside the directory are `ArchiveReader`'s.
public struct ArchiveExtractor {
    private let reader: ArchiveReader

    public init(archive: URL) throws {
        reader = try ArchiveReader(file: archive)
    }

    /// libarchive and the compression libraries it was built with, for cache keys.
    public static var libraryVersion: String { ArchiveReader.libraryVersion }

    /// Extracts every entry below `destination`; mtimes later than `clampTo` become `clampTo`.
    public func extract(into destination: URL, clampTo epoch: Int) throws {
        // Device nodes (mmdebstrap adds /dev/null and friends) are skipped: /dev is devtmpfs at
        // boot, and a user namespace may not create them, so root and rootless builds agree.
        try reader.extract(into: destination, clampingTimesTo: epoch) { $0.kind.isDevice }
    }

    /// The content of the regular file `name` (as the archive spells it, e.g. `./var/lib/dpkg/status`),
    /// or nil when the archive has no such entry.
    public func contents(of name: String) throws -> Data? {
        try reader.contents(of: name)
    }
}
