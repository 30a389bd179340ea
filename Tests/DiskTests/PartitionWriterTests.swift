import Disk
import Foundation
import Support
import XCTest

final class PartitionWriterTests: XCTestCase {
    private var directory: URL!
    private var disk: URL!
    private var layout: DiskLayout!

    override func setUpWithError() throws {
        directory = try temporaryDirectory(for: self)
        disk = directory.appendingPathComponent("disk.bin")
        layout = try CoreOSBase.layout()
        try GPTWriter.write(layout, to: disk)
    }

    func testCopyPutsTheImageAtThePartitionOffsetAndKeepsTheDiskSparse() throws {
        // 8 MiB, data only in the first and the last 64 KiB block.
        let filesystem = directory.appendingPathComponent("oem.img")
        let head = Data((0..<65_536).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) })
        let tail = Data("last block".utf8)
        var content = Data(count: 8 << 20)
        content.replaceSubrange(0..<head.count, with: head)
        content.replaceSubrange((content.count - tail.count)..., with: tail)
        try content.write(to: filesystem)
        let oem = try XCTUnwrap(layout.partition(labeled: "OEM"))

        try PartitionWriter.copy(filesystemImage: filesystem, into: disk, partition: oem)

        XCTAssertEqual(try readBytes(disk, at: oem.byteOffset, count: content.count + 4096), content + Data(count: 4096),
                       "the image, then the rest of the partition as zeros")
        XCTAssertLessThanOrEqual(try allocatedBytes(disk), 256 << 10,
                                 "two 64 KiB data blocks and the GPT: zero blocks of the image were not written")
        XCTAssertNoThrow(try GPTReader.read(disk), "the partition table is intact")
    }

    func testSparseImageWithSmallDataRangesIsCopiedWhole() throws {
        // As mke2fs writes them: 4 KiB of data between holes, so each data range is a partial block.
        let filesystem = directory.appendingPathComponent("root.img")
        FileManager.default.createFile(atPath: filesystem.path, contents: nil)
        let handle = try FileHandle(forWritingTo: filesystem)
        try handle.truncate(atOffset: 4 << 20)
        for (offset, byte) in [(UInt64(0), UInt8(0x53)), (1 << 20, 0xEF), ((4 << 20) - 4096, 0x42)] {
            try handle.seek(toOffset: offset)
            try handle.write(contentsOf: Data(repeating: byte, count: 4096))
        }
        try handle.close()
        let root = try XCTUnwrap(layout.partition(labeled: "ROOT"))

        try PartitionWriter.copy(filesystemImage: filesystem, into: disk, partition: root)

        XCTAssertEqual(try readBytes(disk, at: root.byteOffset, count: 4 << 20), try Data(contentsOf: filesystem))
    }

    func testCopyingAgainLeavesNoStaleBytesOfThePreviousImage() throws {
        let oem = try XCTUnwrap(layout.partition(labeled: "OEM"))
        let first = directory.appendingPathComponent("first.img")
        try Data(repeating: 0xAB, count: 1 << 20).write(to: first)
        try PartitionWriter.copy(filesystemImage: first, into: disk, partition: oem)
        let second = directory.appendingPathComponent("second.img")
        var secondContent = Data(count: 512 << 10)
        secondContent[0] = 0xCD
        try secondContent.write(to: second)

        try PartitionWriter.copy(filesystemImage: second, into: disk, partition: oem)

        var expected = Data(count: 1 << 20)
        expected[0] = 0xCD
        XCTAssertEqual(try readBytes(disk, at: oem.byteOffset, count: 1 << 20), expected)
    }

    func testImageLargerThanThePartitionIsRefusedWithTheBytesNeededAndAvailable() throws {
        let bios = try XCTUnwrap(layout.partition(labeled: "BIOS-BOOT"))
        let core = directory.appendingPathComponent("core.img")
        try Data(repeating: 1, count: Int(bios.byteCount) + 512).write(to: core)
        let text = message { try PartitionWriter.copy(filesystemImage: core, into: disk, partition: bios) }
        XCTAssertEqual(text, "\(core.path): partition 2 (BIOS-BOOT): does not fit: it needs 2097664 bytes, "
            + "the partition has 2097152 bytes; grow the partition in the layout or make the filesystem smaller")
        XCTAssertEqual(try GPTReader.read(disk).partitions.count, 7, "nothing was written")
    }
}
