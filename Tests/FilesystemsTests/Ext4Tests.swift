import Foundation
import Support
import TestSupport
import XCTest

@testable import Filesystems

final class Ext4Tests: XCTestCase {
    let uuid = "3f2504e0-4f89-51d3-9a0c-0305e82c3301"
    let hashSeed = "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d"
    let size: UInt64 = 64 << 20

    private func build(_ image: URL, from tree: URL?, size: UInt64? = nil) throws {
        try makeExt4(image: image, sizeBytes: size ?? self.size, label: "ROOT", uuid: uuid, hashSeed: hashSeed,
                     populateFrom: tree, clock: testClock)
    }

    /// Runs `body` with an image of the root tree, removed afterwards.
    private func withRootTreeImage(_ body: (URL) throws -> Void) throws {
        let scratch = try Scratch()
        try makeRootTree(at: scratch.path("tree"))
        let image = scratch.path("root.ext4")
        try build(image, from: scratch.path("tree"))
        try body(image)
    }

    private func stat(_ path: String, in image: URL) throws -> String {
        try sh("debugfs", "-R", "stat \"\(path)\"", image.path)
    }

    func testImagePassesFsckAndCarriesLabelUUIDAndHashSeed() throws {
        try withRootTreeImage { image in
            XCTAssertNoThrow(try sh("e2fsck", "-fn", image.path))
            XCTAssertEqual(try fileSize(image), size)
            let superblock = try sh("dumpe2fs", "-h", image.path)
            XCTAssertTrue(superblock.contains("Filesystem volume name:   ROOT"), superblock)
            XCTAssertTrue(superblock.contains("Filesystem UUID:          \(uuid)"), superblock)
            XCTAssertTrue(superblock.contains("Directory Hash Seed:      \(hashSeed)"), superblock)
            XCTAssertTrue(superblock.contains("Filesystem created:       Tue Nov 14 22:13:20 2023"), superblock)
            XCTAssertTrue(superblock.contains("Block size:               4096"), superblock)
            XCTAssertTrue(try sh("blkid", image.path).contains("LABEL=\"ROOT\" UUID=\"\(uuid)\""))
        }
    }

    func testImageKeepsOwnersModesSymlinksAndHardLinks() throws {
        try withRootTreeImage { image in
            let tool = try stat("/bin/tool", in: image)
            XCTAssertTrue(tool.contains("Mode:  04755"), tool)
            XCTAssertTrue(tool.contains("Links: 2"), tool)
            let hostname = try stat("/etc/hostname", in: image)
            XCTAssertTrue(hostname.contains("User:  1000   Group:  1001"), hostname)
            XCTAssertTrue(hostname.contains("Mode:  0640"), hostname)
            let etc = try stat("/etc", in: image)
            XCTAssertTrue(etc.contains("User:     0   Group:    27") && etc.contains("Mode:  0750"), etc)
            let home = try stat("/home/core", in: image)
            XCTAssertTrue(home.contains("User:   500   Group:   500") && home.contains("Mode:  0700"), home)
            XCTAssertTrue(try stat("/lib/libdemo.so", in: image).contains("Fast link dest: \"libdemo.so.1\""))
            XCTAssertEqual(try sh("debugfs", "-R", "cat /etc/hostname", image.path), "coreos\n")
            let inodes = try ["/bin/tool", "/bin/tool-again"].map { try stat($0, in: image).split(separator: " ").prefix(2) }
            XCTAssertEqual(inodes[0], inodes[1], "hard links must share one inode")
            XCTAssertTrue(try stat("/", in: image).contains("User:     0   Group:     0"))
        }
    }

    func testTimestampsAreClampedToTheEpochAndOlderOnesKept() throws {
        try withRootTreeImage { image in
            let fresh = try stat("/etc/fresh", in: image)
            for field in [" ctime", " atime", " mtime", "crtime"] {
                XCTAssertTrue(fresh.contains("\(field): 0x6553f100:00000000"), "\(field) of /etc/fresh:\n\(fresh)")
            }
            let old = try stat("/etc/hostname", in: image)
            XCTAssertTrue(old.contains(" mtime: 0x3a7b8372:00000000"), old)  // 2001-02-03 04:05:06
            XCTAssertTrue(old.contains(" atime: 0x3a7b8372:00000000"), old)
        }
    }

    func testTwoBuildsOfCopiesOfOneTreeAreByteIdentical() throws {
        // mke2fs -d copies atime and ctime, which the copy and the reads change: none may show.
        try assertRebuildFromACopyIsByteIdentical(pause: 1) { image, tree in try build(image, from: tree) }
    }

    func testEmptyFilesystemWithoutATreePassesFsck() throws {
        let scratch = try Scratch()
        let image = scratch.path("oem.ext4")
        try makeExt4(image: image, sizeBytes: 16 << 20, label: "OEM", uuid: uuid, hashSeed: hashSeed,
                     populateFrom: nil, clock: testClock)
        XCTAssertNoThrow(try sh("e2fsck", "-fn", image.path))
        XCTAssertTrue(try sh("debugfs", "-R", "ls /", image.path).contains("lost+found"))
    }

    func testContentTooBigForTheSizeFailsWithTheLabelAndLeavesNoFile() throws {
        let scratch = try Scratch()
        let tree = try TreeWriter(scratch.path("tree"))
        try tree.file("big", Data(repeating: 0x5A, count: 20 << 20))
        try assertDoesNotFit(label: "ROOT", imageBytes: 8 << 20, scratch: scratch, expectedNames: ["tree"]) {
            try build(scratch.path("root.ext4"), from: scratch.path("tree"), size: 8 << 20)
        }
    }

    func testInvalidUUIDIsRejectedBeforeAnyFileIsWritten() throws {
        let scratch = try Scratch()
        XCTAssertThrowsError(try makeExt4(image: scratch.path("x.ext4"), sizeBytes: size, label: "ROOT",
                                          uuid: "not-a-uuid", hashSeed: hashSeed, populateFrom: nil,
                                          clock: testClock)) { error in
            XCTAssertTrue("\(error)".contains("ROOT: filesystem UUID 'not-a-uuid' is not a UUID"), "\(error)")
        }
        XCTAssertEqual(try scratch.names(), [])
    }
}
