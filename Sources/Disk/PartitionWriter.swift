import Foundation
import Support

/// Puts filesystem images into their partitions of a disk image.
public enum PartitionWriter {
    /// Zero blocks of this size are not written, so the disk stays as sparse as the filesystem.
    static let blockSize = 64 << 10
    /// Read unit; a multiple of `blockSize` big enough to keep syscalls off the profile.
    static let chunkSize = 4 << 20

    /// Copies `filesystemImage` to the start of `partition` inside `disk`. The rest of the
    /// partition reads as zeros afterwards (stale bytes of an earlier copy would otherwise survive
    /// where the new image has zeros or ends).
    public static func copy(filesystemImage: URL, into disk: URL, partition: PlacedPartition) throws {
        let source = try ImageFile(filesystemImage, writable: false)
        let needed = try source.size
        guard needed <= partition.byteCount else {
            throw SupportError(file: filesystemImage.path, partition: partition.name, "does not fit: it needs \(needed) "
                + "bytes, the partition has \(partition.byteCount) bytes; grow the partition in the layout "
                + "or make the filesystem smaller")
        }
        let target = try ImageFile(disk, writable: true)
        let diskSize = try target.size
        guard partition.byteOffset + partition.byteCount <= diskSize else {
            throw SupportError("\(disk.path) is \(diskSize) bytes, too small to hold \(partition.name), which ends "
                + "at byte \(partition.byteOffset + partition.byteCount); write the GPT for this layout first")
        }
        try target.zero(partition.byteCount, at: partition.byteOffset)

        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 4096)
        defer { buffer.deallocate() }
        for range in try source.dataRanges() {
            var offset = range.lowerBound
            while offset < range.upperBound {
                let wanted = Int(min(UInt64(chunkSize), range.upperBound - offset))
                let got = try source.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[..<wanted]), at: offset)
                guard got == wanted else {
                    throw SupportError(file: filesystemImage.path, "shrank while it was being copied")
                }
                try writeNonZeroBlocks(UnsafeRawBufferPointer(rebasing: buffer[..<got]),
                                       to: target, at: partition.byteOffset + offset)
                offset += UInt64(got)
            }
        }
    }

    /// Writes each run of blocks that hold any non-zero byte with one pwrite. The chunk may end
    /// in a partial block (data ranges follow the filesystem's holes, often 4 KiB apart).
    private static func writeNonZeroBlocks(_ chunk: UnsafeRawBufferPointer, to target: ImageFile,
                                           at offset: UInt64) throws {
        var runStart: Int?
        for blockStart in stride(from: 0, to: chunk.count, by: blockSize) {
            let block = UnsafeRawBufferPointer(rebasing: chunk[blockStart..<min(blockStart + blockSize, chunk.count)])
            if !isAllZero(block) {
                if runStart == nil { runStart = blockStart }
            } else if let start = runStart {
                try target.write(UnsafeRawBufferPointer(rebasing: chunk[start..<blockStart]), at: offset + UInt64(start))
                runStart = nil
            }
        }
        if let start = runStart {
            try target.write(UnsafeRawBufferPointer(rebasing: chunk[start...]), at: offset + UInt64(start))
        }
    }

    private static func isAllZero(_ bytes: UnsafeRawBufferPointer) -> Bool {
        // Word-wise: this runs over every byte of gigabyte images.
        let words = bytes.count / 8
        for index in 0..<words where bytes.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self) != 0 {
            return false
        }
        return bytes[(words * 8)...].allSatisfy { $0 == 0 }
    }
}
