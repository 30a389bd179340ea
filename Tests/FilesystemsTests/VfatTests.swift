import Foundation
import Support
import TestSupport
import XCTest

@testable import Filesystems

final class VfatTests: XCTestCase {
    let size: UInt64 = 40 << 20

    private func build(_ image: URL, from tree: URL?, size: UInt64? = nil) throws {
        try makeVfat(image: image, sizeBytes: size ?? self.size, label: "EFI-SYSTEM", volumeID: 0x1234_ABCD,
                     populateFrom: tree, clock: testClock)
    }

    private func mtools(_ tool: String, _ image: URL, _ arguments: String...) throws -> String {
        try Command.run([tool, "-i", image.path] + arguments, environment: ["TZ": "UTC"]).text
    }

    func testImagePassesFsckAndShowsTheFilesLabelAndVolumeID() throws {
        let scratch = try Scratch()
        try makeESPTree(at: scratch.path("esp"))
        let image = scratch.path("esp.vfat")
        try build(image, from: scratch.path("esp"))

        XCTAssertEqual(try fileSize(image), size)
        // Clean: the banner and the summary, nothing to repair (5 files + 5 directories).
        let check = try sh("fsck.vfat", "-n", image.path).split(separator: "\n")
        XCTAssertEqual(check.count, 2, check.joined(separator: "\n"))
        XCTAssertTrue(check.last?.hasSuffix("esp.vfat: 10 files, 731/80628 clusters") ?? false, "\(check)")
        let listing = try mtools("mdir", image, "-/", "::/")
        XCTAssertTrue(listing.contains("Volume in drive : is EFI-SYSTEM"), listing)
        XCTAssertTrue(listing.contains("Volume Serial Number is 1234-ABCD"), listing)
        for name in ["BOOTX64  EFI     70000", "vmlinuz-a", "a long file name.conf", "coreos-a.conf"] {
            XCTAssertTrue(listing.contains(name), "\(name) missing from\n\(listing)")
        }
        XCTAssertEqual(try mtools("mtype", image, "::/loader/entries/coreos-a.conf"), "linux /coreos/vmlinuz-a\n")
        let blkid = try sh("blkid", image.path)
        XCTAssertTrue(blkid.contains("LABEL=\"EFI-SYSTEM\"") && blkid.contains("UUID=\"1234-ABCD\"")
                      && blkid.contains("TYPE=\"vfat\""), blkid)
        XCTAssertTrue(try sh("file", "-b", image.path).contains("FAT (32 bit)"))
    }

    func testFilesKeepOlderTimesAndNewerOnesAreClampedToTheEpoch() throws {
        let scratch = try Scratch()
        try makeESPTree(at: scratch.path("esp"))
        let image = scratch.path("esp.vfat")
        try build(image, from: scratch.path("esp"))

        let coreos = try mtools("mdir", image, "::/coreos")
        XCTAssertTrue(coreos.contains("300000 2001-02-03   4:05  vmlinuz-a"), coreos)
        XCTAssertTrue(coreos.contains("2023-11-14  22:13  a long file name.conf"), coreos)
        XCTAssertTrue(try mtools("mdir", image, "::/").contains("EFI          <DIR>     2023-11-14  22:13"))
    }

    func testTwoBuildsSecondsApartFromCopiesAreByteIdentical() throws {
        // FAT times have 2-second steps; a wall-clock time anywhere would differ after the pause.
        try assertRebuildFromACopyIsByteIdentical(makeTree: makeESPTree, pause: 2) { image, tree in
            try build(image, from: tree)
        }
    }

    func testSymlinksAreRejectedWithTheirPath() throws {
        let scratch = try Scratch()
        try makeESPTree(at: scratch.path("esp"))
        try FileManager.default.createSymbolicLink(atPath: scratch.path("esp/coreos/vmlinuz").path,
                                                   withDestinationPath: "vmlinuz-a")
        XCTAssertThrowsError(try build(scratch.path("esp.vfat"), from: scratch.path("esp"))) { error in
            XCTAssertTrue("\(error)".contains("esp/coreos/vmlinuz is not a regular file or directory"), "\(error)")
        }
        XCTAssertEqual(try scratch.names(), ["esp"])
    }

    func testNamesDifferingOnlyInCaseAreRejected() throws {
        let scratch = try Scratch()
        let tree = try TreeWriter(scratch.path("esp"))
        try tree.file("README", "a")
        try tree.file("readme", "b")
        XCTAssertThrowsError(try build(scratch.path("esp.vfat"), from: scratch.path("esp"))) { error in
            XCTAssertTrue("\(error)".contains("'README' and 'readme'"), "\(error)")
        }
    }

    func testSizeTooSmallForFAT32IsRejectedAndLeavesNoFile() throws {
        let scratch = try Scratch()
        XCTAssertThrowsError(try build(scratch.path("esp.vfat"), from: nil, size: 16 << 20)) { error in
            XCTAssertTrue("\(error)".hasPrefix("EFI-SYSTEM: 16777216 bytes (16.0 MiB) is too small for FAT32"), "\(error)")
        }
        XCTAssertEqual(try scratch.names(), [])
    }

    func testContentTooBigForTheSizeFailsWithTheLabelAndLeavesNoFile() throws {
        let scratch = try Scratch()
        let tree = try TreeWriter(scratch.path("esp"))
        try tree.file("kernel", Data(repeating: 0x5A, count: 45 << 20))
        try assertDoesNotFit(label: "EFI-SYSTEM", imageBytes: size, scratch: scratch, expectedNames: ["esp"]) {
            try build(scratch.path("esp.vfat"), from: scratch.path("esp"))
        }
    }
}
