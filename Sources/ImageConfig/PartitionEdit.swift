import Disk
import Foundation
import Support

/// One change to a finished image: the bytes to write at a guest offset.
public typealias ImageChange = (offset: UInt64, bytes: [UInt8])

/// Edits a byte range of an image (a partition, the GPT) in a scratch copy with ordinary tools and
/// returns only the 4 KiB blocks that changed, for `WriteJournal.apply`. Nothing touches the image here.
struct RangeEdit {
    let disk: DiskImage
    let scratch: URL

    func edit(offset: UInt64, size: UInt64, name: String, _ body: (URL) throws -> Void) throws -> [ImageChange] {
        let before = scratch.appendingPathComponent("\(name)-before.img"), after = scratch.appendingPathComponent("\(name).img")
        try disk.copy(count: size, at: offset, to: before)
        try Command.run(["cp", "--sparse=always", before.path, after.path])
        try body(after)
        return try Self.changedBlocks(before, after).map { (offset: offset + $0.offset, bytes: $0.bytes) }
    }

    /// Runs of 4 KiB blocks that differ between two equally long files.
    static func changedBlocks(_ old: URL, _ new: URL) throws -> [ImageChange] {
        let block = 4096
        guard let oldHandle = FileHandle(forReadingAtPath: old.path), let newHandle = FileHandle(forReadingAtPath: new.path) else {
            throw SupportError("cannot read \(old.path) or \(new.path)")
        }
        defer { try? oldHandle.close(); try? newHandle.close() }
        var runs: [ImageChange] = []
        var position: UInt64 = 0
        while true {
            let a = [UInt8](try oldHandle.read(upToCount: 1 << 20) ?? Data())
            let b = [UInt8](try newHandle.read(upToCount: 1 << 20) ?? Data())
            guard a.count == b.count else { throw SupportError("the edited copy of \(old.lastPathComponent) changed size") }
            if a.isEmpty { break }
            for start in stride(from: 0, to: a.count, by: block) where !equal(a, b, start..<min(start + block, a.count)) {
                let chunk = Array(b[start..<min(start + block, b.count)])
                if let last = runs.last, last.offset + UInt64(last.bytes.count) == position + UInt64(start) {
                    runs[runs.count - 1].bytes += chunk
                } else {
                    runs.append((position + UInt64(start), chunk))
                }
            }
            position += UInt64(a.count)
        }
        return runs
    }

    private static func equal(_ a: [UInt8], _ b: [UInt8], _ range: Range<Int>) -> Bool {
        a.withUnsafeBytes { x in b.withUnsafeBytes { y in
            memcmp(x.baseAddress! + range.lowerBound, y.baseAddress! + range.lowerBound, range.count) == 0
        } }
    }

    /// Changes gptprio attributes with libfdisk on a sparse stand-in holding just the two GPT copies,
    /// and returns the changed blocks of both (and of the protective MBR).
    func editGPT(_ body: (URL) throws -> Void) throws -> [ImageChange] {
        let reserved = DiskLayout.gptReservedSectors * DiskLayout.sectorSize
        let standIn = scratch.appendingPathComponent("gpt-stand-in.img")
        _ = FileManager.default.createFile(atPath: standIn.path, contents: nil)
        let handle = try FileHandle(forWritingTo: standIn)
        try handle.truncate(atOffset: disk.virtualSize)
        let regions = [(UInt64(0), reserved), (disk.virtualSize - reserved + DiskLayout.sectorSize, reserved - DiskLayout.sectorSize)]
        var originals: [[UInt8]] = []
        for (offset, length) in regions {
            let bytes = try disk.read(Int(length), at: offset)
            originals.append(bytes)
            try handle.seek(toOffset: offset)
            try handle.write(contentsOf: Data(bytes))
        }
        try handle.close()
        try body(standIn)
        let edited = try FileHandle(forReadingFrom: standIn)
        defer { try? edited.close() }
        var changes: [ImageChange] = []
        for ((offset, length), original) in zip(regions, originals) {
            try edited.seek(toOffset: offset)
            let bytes = [UInt8](try edited.read(upToCount: Int(length)) ?? Data())
            if bytes != original { changes.append((offset, bytes)) }
        }
        return changes
    }
}
