@testable import Disk
import Foundation
import Support
import XCTest

final class GPTWriterTests: XCTestCase {
    private var image: URL!
    private var layout: DiskLayout!

    override func setUpWithError() throws {
        image = try temporaryDirectory(for: self).appendingPathComponent("disk.bin")
        layout = try CoreOSBase.layout()
        try GPTWriter.write(layout, to: image)
    }

    func testSfdiskSeesEveryPartitionAsPlanned() throws {
        struct Dump: Decodable {
            struct Table: Decodable {
                let label: String, id: String, firstlba: UInt64, lastlba: UInt64
                let partitions: [Entry]
            }
            struct Entry: Decodable, Equatable {
                let start: UInt64, size: UInt64, type: String, uuid: String, name: String, attrs: String?
            }
            let partitiontable: Table
        }
        let json = try Command.run(["sfdisk", "--json", image.path]).standardOutput
        let table = try JSONDecoder().decode(Dump.self, from: json).partitiontable
        XCTAssertEqual(table.label, "gpt")
        XCTAssertEqual(table.id, "00000000-0000-0000-0000-000000000001")
        XCTAssertEqual(table.firstlba, 34, "cgpt's first usable LBA, not libfdisk's 2048")
        XCTAssertEqual(table.lastlba, 9_289_728 - 34)
        let expected: [Dump.Entry] = layout.partitions.map {
            Dump.Entry(start: $0.firstLBA, size: $0.sectorCount, type: $0.typeGUID, uuid: $0.uniqueGUID,
                       name: $0.label, attrs: nil)
        }
        XCTAssertEqual(table.partitions.map { Dump.Entry(start: $0.start, size: $0.size, type: $0.type,
                                                         uuid: $0.uuid, name: $0.name, attrs: nil) }, expected)
        XCTAssertEqual(table.partitions.map(\.attrs), ["LegacyBIOSBootable", nil, "GUID:48,56", nil, nil, nil, nil])
        XCTAssertEqual(table.partitions[2].uuid, CoreOSBase.usrAGUID)
        XCTAssertEqual(table.partitions[2].type, "5DFBF5F4-2848-4BAC-AA5E-0D9A20B745A6")
    }

    func testCgptSeesUSRAAsTheBootableSlotAndUSRBAsEmpty() throws {
        func show(_ flag: String, _ number: Int) throws -> String {
            try Command.run(["cgpt", "show", "-i", "\(number)", flag, image.path]).text
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        XCTAssertEqual([try show("-P", 3), try show("-T", 3), try show("-S", 3)], ["1", "0", "1"])
        XCTAssertEqual([try show("-P", 4), try show("-T", 4), try show("-S", 4)], ["0", "0", "0"])
        XCTAssertEqual(try show("-b", 3), "270336")
        XCTAssertEqual(try show("-s", 3), "2097152")
        XCTAssertEqual(try show("-u", 3), CoreOSBase.usrAGUID)
        XCTAssertEqual(try show("-l", 4), "USR-B")
        let listing = try Command.run(["cgpt", "show", image.path]).text
        XCTAssertTrue(listing.contains("Attr: legacy_boot=1"), listing)
        XCTAssertFalse(listing.contains("INVALID"), listing)
    }

    func testGPTReaderSeesEveryFieldWithValidChecksums() throws {
        let disk = try GPTReader.read(image)
        XCTAssertEqual(disk.diskGUID, GPTWriter.placeholderDiskGUID)
        XCTAssertEqual(disk.totalSectors, 9_289_728)
        XCTAssertEqual(disk.mbrPartitions.map(\.type), [0xEE], "protective, not hybrid")
        XCTAssertEqual(disk.mbrPartitions.first?.firstLBA, 1)
        XCTAssertEqual(disk.mbrPartitions.first?.sectorCount, 9_289_727)
        XCTAssertEqual(disk.primaryHeader.currentLBA, 1)
        XCTAssertEqual(disk.primaryHeader.alternateLBA, 9_289_727)
        XCTAssertEqual(disk.primaryHeader.firstUsableLBA, 34)
        XCTAssertEqual(disk.primaryHeader.lastUsableLBA, 9_289_694)
        XCTAssertEqual(disk.primaryHeader.entriesLBA, 2)
        XCTAssertEqual(disk.primaryHeader.entryCount, 128)
        XCTAssertEqual(disk.primaryHeader.entrySize, 128)
        XCTAssertEqual(disk.backupHeader.currentLBA, 9_289_727)
        XCTAssertEqual(disk.backupHeader.entriesLBA, 9_289_695)
        XCTAssertEqual(disk.backupHeader.entriesCRC32, disk.primaryHeader.entriesCRC32)
        XCTAssertEqual(disk.partitions, layout.partitions.map {
            GPTEntry(number: $0.number, typeGUID: $0.typeGUID, uniqueGUID: $0.uniqueGUID, name: $0.label,
                     firstLBA: $0.firstLBA, lastLBA: $0.lastLBA, attributes: $0.spec.attributes)
        })
        XCTAssertEqual(disk.partition(labeled: "USR-A")?.attributes,
                       GPTPartitionAttributes(priority: 1, tries: 0, successful: true))
    }

    func testFdiskContextListsTheSamePartitionsAsGPTReader() throws {
        let fdisk = try FdiskContext(image: image)
        XCTAssertEqual(try fdisk.partitions(), try GPTReader.read(image).partitions)
        XCTAssertEqual(try fdisk.diskGUID(), GPTWriter.placeholderDiskGUID)
    }

    func testImageIsSparse() throws {
        XCTAssertEqual(try image.resourceValues(forKeys: [.fileSizeKey]).fileSize, 4536 << 20)
        XCTAssertLessThanOrEqual(try allocatedBytes(image), 64 << 10,
                                 "only the MBR and the two GPT copies (2 × 17 KiB) may be stored")
    }

    func testWritingAgainEmptiesTheOldImage() throws {
        try overwrite(image, at: 270_336 * 512, with: Data("old USR-A content".utf8))
        try GPTWriter.write(layout, to: image)
        XCTAssertEqual(try readBytes(image, at: 270_336 * 512, count: 17), Data(count: 17))
    }

    func testSizesThatAreNotWholeMebibytesAreWrittenExactlyAsPlanned() throws {
        // libfdisk moves the end of a partition to its 1 MiB grain (A would end at 8191, C at
        // 104447) unless the size is marked explicit.
        let specs = [
            PartitionSpec(number: 1, label: "A", typeGUID: "data", sizeBytes: 5000 * 512),
            PartitionSpec(number: 2, label: "B", typeGUID: "data", sizeBytes: 3000 * 512),
            PartitionSpec(number: 3, label: "C", typeGUID: "data", sizeBytes: 100_001 * 512),
            PartitionSpec(number: 4, label: "D", typeGUID: "data", sizeBytes: 8 * 512),
        ]
        let odd = try DiskLayout.plan(partitions: specs, diskIdentity: "odd")
        try GPTWriter.write(odd, to: image)
        let disk = try GPTReader.read(image)
        XCTAssertEqual(disk.partitions.map(\.firstLBA), [4096, 12288, 16384, 118_784])
        XCTAssertEqual(disk.partitions.map(\.lastLBA), [9095, 15287, 116_384, 118_791])
    }

    func testUnalignedStartsAreWrittenExactlyAsPlanned() throws {
        let specs = [
            PartitionSpec(number: 1, label: "ODD", typeGUID: "data", sizeBytes: 7 * 512),
            PartitionSpec(number: 2, label: "NEXT", typeGUID: "data", sizeBytes: 512),
        ]
        let odd = try DiskLayout.plan(partitions: specs, alignmentSectors: 1, diskAlignmentSectors: 1, diskIdentity: "odd")
        try GPTWriter.write(odd, to: image)
        let disk = try GPTReader.read(image)
        XCTAssertEqual(disk.partitions.map(\.firstLBA), [34, 41])
        XCTAssertEqual(disk.partitions.map(\.lastLBA), [40, 41])
        XCTAssertEqual(disk.totalSectors, 42 + 34)
    }

    func testChangingAttributesOnAnExistingImageIsSeenByCgpt() throws {
        // What coreos-postinst does to the freshly updated slot: -S0 -T1 and the top priority (spec §2.4).
        let updated = try FdiskContext.updateAttributes(in: image, partition: 4) {
            $0.priority = 2
            $0.tries = 1
            $0.successful = false
        }
        XCTAssertEqual(updated, GPTPartitionAttributes(priority: 2, tries: 1, successful: false))
        for flag in ["-P", "-T", "-S"] {
            let value = try Command.run(["cgpt", "show", "-i", "4", flag, image.path]).text
            XCTAssertEqual(value.trimmingCharacters(in: .whitespacesAndNewlines), ["-P": "2", "-T": "1", "-S": "0"][flag])
        }
        let disk = try GPTReader.read(image)
        XCTAssertEqual(disk.partition(number: 4)?.attributes.rawValue, 0x0012_0000_0000_0000)
        XCTAssertEqual(disk.partition(number: 3)?.attributes, layout.partition(number: 3)?.spec.attributes,
                       "USR-A is untouched")
        XCTAssertEqual(disk.partitions.map(\.firstLBA), layout.partitions.map(\.firstLBA))
    }

    func testChangingAttributesOfAMissingPartitionSaysWhichOne() {
        let text = message { try FdiskContext.updateAttributes(in: image, partition: 5) { $0.priority = 1 } }
        XCTAssertEqual(text, "\(image.path): no partition 5 whose attributes could be changed")
    }

    func testReadingPartitionsOfAnImageWithoutGPTSaysSo() throws {
        try Command.run(["truncate", "-s", "0", image.path])
        try Command.run(["truncate", "-s", "1M", image.path])
        let text = message { _ = try FdiskContext(image: image).partitions() }
        XCTAssertEqual(text, "\(image.path): no GPT partition table")
    }
}
