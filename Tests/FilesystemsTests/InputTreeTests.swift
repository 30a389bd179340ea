import Foundation
import TestSupport
import XCTest

@testable import Filesystems

final class InputTreeTests: XCTestCase {
    func testBuildersLeaveTheInputTreesUntouched() throws {
        let scratch = try Scratch()
        let root = scratch.path("tree"), esp = scratch.path("esp")
        try makeRootTree(at: root)
        try makeESPTree(at: esp)
        let before = try treeFingerprint(root) + treeFingerprint(esp)

        try makeExt4(image: scratch.path("root.ext4"), sizeBytes: 32 << 20, label: "ROOT",
                     uuid: "3f2504e0-4f89-51d3-9a0c-0305e82c3301", hashSeed: "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d",
                     populateFrom: root, clock: testClock)
        _ = try makeErofs(image: scratch.path("usr.erofs"), from: root, clock: testClock,
                          uuid: "6f1d2c3b-4a59-5e6f-8a7b-0c1d2e3f4a5b")
        _ = try makeSquashfs(image: scratch.path("usr.squashfs"), from: root, clock: testClock)
        try makeVfat(image: scratch.path("esp.vfat"), sizeBytes: 40 << 20, label: "EFI-SYSTEM", volumeID: 1,
                     populateFrom: esp, clock: testClock)

        XCTAssertEqual(try treeFingerprint(root) + treeFingerprint(esp), before)
        XCTAssertEqual(try scratch.names(), ["esp", "esp.vfat", "root.ext4", "tree", "usr.erofs", "usr.squashfs"])
    }


    func testMeasureCountsFileBytesOnceAndSymlinkTargets() throws {
        let scratch = try Scratch()
        try makeRootTree(at: scratch.path("tree"))
        let size = try TreeSize.measure(scratch.path("tree"))
        // tool (20, hard-linked twice), hostname 7, fresh 24, libdemo.so.1 104000, symlink target 12
        XCTAssertEqual(size.contentBytes, 20 + 7 + 24 + 104_000 + 12)
        XCTAssertEqual(size.files, 5)
        XCTAssertEqual(size.symlinks, 1)
        XCTAssertEqual(size.directories, 5)
        XCTAssertEqual(size.compressionRatio(imageBytes: 52_032), 2.0)
    }
}
