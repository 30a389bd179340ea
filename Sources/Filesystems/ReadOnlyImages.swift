import Foundation
import Support

// Read-only compressed images for /usr. Both tools sort directory entries themselves, so the
// output does not depend on readdir order; every inode gets the epoch as its time (neither tool
// version here can clamp), owners, modes, symlinks, hard links and xattrs are kept.
// The Debian 6.1 cloud kernel reads both: EROFS_FS=m with EROFS_FS_ZIP=y and
// LZ4_DECOMPRESS=y; SQUASHFS=m with ZLIB, LZ4, LZO, XZ and ZSTD all =y.

// Which compressors and levels a board may choose is listed once, in Recipes
// (`Board.UsrFilesystem.compressors`), and checked when the board is read; these functions pass
// the value on to the tool as written, and the tool refuses anything else.

/// Writes an erofs image of `tree` at `image` (via a temporary file) and returns its size in bytes.
/// `compression` is a compressor mkfs.erofs takes (`lz4hc`), or `none`.
public func makeErofs(image: URL, from tree: URL, clock: BuildClock, uuid: String,
                      compression: String = "lz4hc") throws -> UInt64 {
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
    let compressor = parts.first ?? compression
    let levelArguments = parts.dropFirst().flatMap { ["-Xcompression-level", $0] }
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

private func produceImage(_ image: URL, _ write: (URL) throws -> Void) throws -> UInt64 {
    try AtomicFile.produce(image) { temporary in
        try write(temporary)
        return try fileSize(temporary)
    }
}
