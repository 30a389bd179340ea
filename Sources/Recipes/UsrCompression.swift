// What `usr.compression` may be, for each `usr.filesystem`: the one list. A board is checked
// against it when it is read, so mkfs (Filesystems' makeSquashfs/makeErofs) is given the value as
// written and has no list of its own.

extension Board.UsrFilesystem {
    /// The compressors this filesystem's mkfs takes, in the tool's own order, each with the levels
    /// it accepts after a colon (`zstd:9`), or nil when it takes none.
    var compressors: [(name: String, levels: ClosedRange<Int>?)] {
        switch self {
        // mksquashfs 4.5.1's -comp and -Xcompression-level (its lzma has no kernel support); the
        // Debian 6.1 kernel has SQUASHFS_ZLIB, _LZO, _LZ4, _XZ and _ZSTD.
        case .squashfs: [("gzip", 1...9), ("lzo", 1...9), ("lz4", nil), ("xz", nil), ("zstd", 1...22)]
        // mkfs.erofs 1.5's -z, and "none" for no -z; the kernel's EROFS_FS_ZIP reads lz4, which lz4hc writes.
        case .erofs: [("lz4hc", nil), ("lz4", nil), ("none", nil)]
        }
    }

    /// What a board without `compression` gets: zstd level 9 made /usr 68 MiB from 263 MiB in 4 s
    /// (bench/usr-filesystem.sh); erofs's lz4hc writes lz4, which the kernel's EROFS_FS_ZIP reads.
    public var defaultCompression: String {
        switch self {
        case .squashfs: "zstd:9"
        case .erofs: "lz4hc"
        }
    }

    /// For messages and the reference: "gzip[:1–9], lzo[:1–9], lz4, xz, zstd[:1–22]".
    var compressorChoices: String {
        compressors.map { compressor in
            compressor.name + (compressor.levels.map { "[:\($0.lowerBound)–\($0.upperBound)]" } ?? "")
        }.joined(separator: ", ")
    }

    /// Refuses `compression` (`zstd`, `zstd:9`) unless this filesystem's mkfs takes it.
    func check(compression: String) throws {
        let parts = compression.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        let name = String(parts[0])
        let refused = "\(rawValue) compression '\(compression)' is not supported"
        guard let compressor = compressors.first(where: { $0.name == name }) else {
            let other = Self.allCases.first { $0 != self && $0.compressors.contains { $0.name == name } }
            throw InvalidValue("\(refused); use one of \(compressorChoices)"
                               + (other.map { " (\(name) needs 'filesystem: \($0.rawValue)')" } ?? ""))
        }
        guard parts.count == 2 else { return }
        guard let levels = compressor.levels else {
            throw InvalidValue("\(refused): \(name) takes no level")
        }
        guard parts[1].allSatisfy(\.isASCIIDigit), let level = Int(parts[1]), levels.contains(level) else {
            throw InvalidValue("\(refused): \(name) takes levels \(levels.lowerBound)–\(levels.upperBound)")
        }
    }
}
