@testable import Disk
import Foundation
import Support
import XCTest

final class GPTReaderTests: XCTestCase {
    func testCRC32MatchesTheIEEECheckValue() {
        XCTAssertEqual(CRC32.checksum(Array("123456789".utf8)), 0xCBF4_3926)
        XCTAssertEqual(CRC32.checksum([UInt8]()), 0)
    }

    func testKnownGoodUSRAEntryDecodes() throws {
        // USR-A of a CoreOS image after build, as bytes: GUIDs mixed-endian, LBAs and attributes
        // little-endian, name UTF-16LE (spec §1.6).
        let hex = "28732AC11FF8D211BA4B00A0C93EC93B" // type: C12A7328-F81F-11D2-BA4B-00A0C93EC93B
            + "4AC930713A215A4E8E266CCE9662F132"   // unique: 7130C94A-213A-4E5A-8E26-6CCE9662F132
            + "0020040000000000" + "FF1F240000000000" // LBAs 270336 ... 2367487
            + "0000000000000101"                     // priority 1, tries 0, successful 1
            + "5500530052002D004100" + String(repeating: "00", count: 62)
        let bytes = stride(from: 0, to: hex.count, by: 2).map {
            UInt8(hex.dropFirst($0).prefix(2), radix: 16)!
        }
        XCTAssertEqual(bytes.count, 128)
        let entry = try XCTUnwrap(GPTEntry.decode(bytes[...], number: 3))
        XCTAssertEqual(entry, GPTEntry(number: 3, typeGUID: "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
                                       uniqueGUID: "7130C94A-213A-4E5A-8E26-6CCE9662F132", name: "USR-A",
                                       firstLBA: 270_336, lastLBA: 2_367_487,
                                       attributes: GPTPartitionAttributes(priority: 1, tries: 0, successful: true)))
        XCTAssertEqual(entry.byteCount, 1 << 30)
        XCTAssertNil(GPTEntry.decode([UInt8](repeating: 0, count: 128)[...], number: 5), "unused slot")
    }

    func testReadsATableThatCgptWrote() throws {
        let image = try temporaryDirectory(for: self).appendingPathComponent("cgpt.bin")
        try Command.run(["truncate", "-s", "\(16 << 20)", image.path])
        try Command.run(["cgpt", "create", image.path])
        try Command.run(["cgpt", "boot", "-p", image.path])
        try Command.run(["cgpt", "add", "-i", "2", "-b", "2048", "-s", "4096", "-t", PartitionType.coreOSUsr,
                         "-u", CoreOSBase.usrAGUID, "-l", "USR-A", "-S", "1", "-P", "1", image.path])
        let disk = try GPTReader.read(image)
        XCTAssertEqual(disk.partitions, [GPTEntry(number: 2, typeGUID: PartitionType.coreOSUsr,
                                                  uniqueGUID: CoreOSBase.usrAGUID, name: "USR-A",
                                                  firstLBA: 2048, lastLBA: 6143,
                                                  attributes: GPTPartitionAttributes(priority: 1, successful: true))])
        XCTAssertEqual(disk.mbrPartitions.map(\.type), [0xEE])
    }

    func testCorruptPrimaryHeaderIsReportedWithItsChecksums() throws {
        let (image, text) = try readingBaseImage(overwrittenAt: 512 + 40, with: [0xFF]) // first usable LBA
        XCTAssertTrue(text.hasPrefix("\(image.path): primary GPT header CRC32 is 0x"), text)
    }

    func testCorruptEntryIsReportedAsAnEntriesChecksumMismatch() throws {
        let (image, text) = try readingBaseImage(overwrittenAt: 1024 + 2 * 128 + 56, with: Array("X".utf8)) // USR-A's name
        XCTAssertTrue(text.hasPrefix("\(image.path): primary GPT entries CRC32 is 0x"), text)
    }

    func testMissingBackupHeaderIsReported() throws {
        let (image, text) = try readingBaseImage(overwrittenAt: (9_289_728 - 1) * 512, with: [UInt8](repeating: 0, count: 512))
        XCTAssertEqual(text, "\(image.path): no backup GPT header (signature 'EFI PART' missing)")
    }

    func testImageWithoutProtectiveMBRIsNotTakenForAGPTDisk() throws {
        let (_, text) = try readingBaseImage(overwrittenAt: 446, with: [UInt8](repeating: 0, count: 64))
        XCTAssertTrue(text.hasSuffix("the MBR has no GPT protective (0xEE) partition; this is not a GPT disk"), text)
    }

    /// Writes the CoreOS base layout, damages it and returns what `GPTReader` says.
    private func readingBaseImage(overwrittenAt offset: UInt64, with bytes: [UInt8]) throws -> (URL, String) {
        let image = try temporaryDirectory(for: self).appendingPathComponent("disk.bin")
        try GPTWriter.write(try CoreOSBase.layout(), to: image)
        try overwrite(image, at: offset, with: bytes)
        return (image, message { _ = try GPTReader.read(image) })
    }
}
