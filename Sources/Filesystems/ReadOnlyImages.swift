import Foundation
import Support

// Read-only compressed images for /usr. Both tools sort directory entries themselves, so the
// output does not depend on readdir order; every inode gets the epoch as its time (neither tool
// version here can clamp), owners, modes, symlinks, hard links and xattrs are kept.
// The Debian 6.1 cloud kernel reads both: EROFS_FS=m with EROFS_FS_ZIP=y and
// LZ4_DECOMPRESS=y; SQUASHFS=m with ZLIB, LZ4, LZO, XZ and ZSTD all =y.

/// Compressors `makeErofs` accepts: what mkfs.erofs 1.5 offers, plus "none".
public let erofsCompressions = ["lz4hc", "lz4", "none"]
/// Compressors `makeSquashfs` accepts: what mksquashfs 4.5.1 offers and the 6.1 kernel reads.
public let squashfsCompressions = ["zstd", "xz", "gzip", "lz4", "lzo"]

/// Writes an erofs image of `tree` at `image` (via a temporary file) and returns its size in bytes.
public func makeErofs(image: URL, from tree: URL, clock: BuildClock, uuid: String,
                      compression: String = "lz4hc") throws -> UInt64 {
    try checkCompression(compression, of: "erofs", in: erofsCompressions)
    try requireDirectory(tree, for: "erofs content")
    let uuid = try canonicalUUID(uuid, what: "erofs UUID")
    // -T gives every inode and the superblock the epoch; -U replaces the random UUID.
    var arguments = ["mkfs.erofs", "--quiet", "-T\(clock.epoch)", "-U\(uuid)"]
    if compression != "none" { arguments.append("-z\(compression)") }
    return try produceImage(image) { temporary in
        try Command.run(arguments + [temporary.path, tree.path])
    }
}

/// Writes a squashfs image of `tree` at `image` (via a temporary file) and returns its size in bytes.
/// `compression` is a compressor name, optionally with a level: `zstd`, `zstd:9`, `gzip:6`.
public func makeSquashfs(image: URL, from tree: URL, clock: BuildClock,
                         compression: String = "zstd") throws -> UInt64 {
    let parts = compression.split(separator: ":", maxSplits: 1).map(String.init)
    let compressor = parts.first ?? ""
    try checkCompression(compressor, of: "squashfs", in: squashfsCompressions)
    var levelArguments: [String] = []
    if parts.count == 2 {
        guard let level = Int(parts[1]), let range = squashfsLevels[compressor], range.contains(level) else {
            let allowed = squashfsLevels.keys.sorted().map { "\($0):\(squashfsLevels[$0]!)" }.joined(separator: ", ")
            throw FilesystemError.invalidInput("squashfs compression '\(compression)' has no valid level; "
                                               + "levels exist for \(allowed)")
        }
        levelArguments = ["-Xcompression-level", String(level)]
    }
    try requireDirectory(tree, for: "squashfs content")
    // mksquashfs 4.5 is reproducible by default, also with several compressor threads. It refuses
    // -mkfs-time/-all-time when SOURCE_DATE_EPOCH is set, and the clock already carries that value.
    return try produceImage(image) { temporary in
        try Command.run(["mksquashfs", tree.path, temporary.path, "-noappend", "-quiet", "-no-progress",
                         "-comp", compressor] + levelArguments
                        + ["-mkfs-time", String(clock.epoch), "-all-time", String(clock.epoch)],
                        unsetting: ["SOURCE_DATE_EPOCH"])
    }
}

/// Compressors whose level mksquashfs 4.5 lets us choose, and the levels it accepts.
private let squashfsLevels: [String: ClosedRange<Int>] = ["zstd": 1...22, "gzip": 1...9]

private func checkCompression(_ compression: String, of filesystem: String, in supported: [String]) throws {
    guard supported.contains(compression) else {
        throw FilesystemError.invalidInput("\(filesystem) compression '\(compression)' is not supported; "
                                           + "use one of \(supported.joined(separator: ", "))")
    }
}

private func produceImage(_ image: URL, _ write: (URL) throws -> Void) throws -> UInt64 {
    try AtomicFile.produce(image) { temporary in
        try write(temporary)
        return try fileSize(temporary)
    }
}
