import Foundation
import Support
import TestSupport
import XCTest

@testable import Filesystems

final class ReadOnlyImageTests: XCTestCase {
    let uuid = "6f1d2c3b-4a59-5e6f-8a7b-0c1d2e3f4a5b"

    private func erofs(_ image: URL, from tree: URL) throws -> UInt64 {
        try makeErofs(image: image, from: tree, clock: testClock, uuid: uuid)
    }

    /// `i_mode` read from the image itself: dump.erofs and fsck.erofs 1.5 drop set-uid bits when
    /// they show or extract a file, though the image stores them.
    private func erofsMode(_ path: String, in image: URL) throws -> UInt16 {
        func field(_ name: String, _ text: String) -> Int? {
            text.split(separator: "\n").first { $0.hasPrefix(name) }
                .flatMap { Int($0.dropFirst(name.count).split(separator: " ").first ?? "") }
        }
        let superblock = try sh("dump.erofs", "-s", image.path)
        let inode = try sh("dump.erofs", "--path=\(path)", image.path)
        guard let metaBlock = field("Filesystem inode metadata start block:", superblock.replacingOccurrences(of: "  ", with: "")),
              let nid = field("NID:", inode) else {
            throw SupportError("cannot find \(path) in\n\(superblock)\n\(inode)")
        }
        let bytes = try Data(contentsOf: image)
        let offset = metaBlock * 4096 + nid * 32 + 4  // erofs_inode_compact/extended: i_format, i_xattr_icount, i_mode
        return UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
    }

    func testErofsHoldsTheFilesOwnersModesSymlinksAndHardLinks() throws {
        let scratch = try Scratch()
        try makeRootTree(at: scratch.path("tree"))
        let image = scratch.path("usr.erofs")
        let bytes = try erofs(image, from: scratch.path("tree"))
        XCTAssertEqual(bytes, try fileSize(image))

        let superblock = try sh("dump.erofs", "-s", image.path)
        XCTAssertTrue(superblock.contains(uuid) && superblock.contains("Tue Nov 14 22:13:20 2023"), superblock)
        XCTAssertEqual(try erofsMode("/bin/tool", in: image), 0o104755)
        XCTAssertEqual(try erofsMode("/etc", in: image), 0o040750)
        let tool = try sh("dump.erofs", "--path=/bin/tool", image.path)
        XCTAssertTrue(tool.contains("Links: 2"), tool)

        let extracted = scratch.path("extracted")
        _ = try sh("fsck.erofs", "--extract=\(extracted.path)", "--preserve", image.path)
        let listing = try sh("find", extracted.path, "-printf", "%P %m %U:%G %T@ %l\\n")
        for line in ["etc/hostname 640 1000:1001 1700000000.0000000000 ", "etc 750 0:27 ",
                     "home/core 700 500:500 ", "lib/libdemo.so 777 0:0 1700000000.0000000000 libdemo.so.1"] {
            XCTAssertTrue(listing.contains(line), "\(line) missing from\n\(listing)")
        }
        XCTAssertEqual(try String(contentsOf: extracted.appendingPathComponent("etc/hostname"), encoding: .utf8), "coreos\n")
    }

    func testErofsBuildsOfCopiesOfOneTreeAreByteIdentical() throws {
        try assertRebuildFromACopyIsByteIdentical { image, tree in _ = try erofs(image, from: tree) }
    }

    func testSquashfsHoldsTheFilesOwnersModesAndSymlinks() throws {
        let scratch = try Scratch()
        try makeRootTree(at: scratch.path("tree"))
        let image = scratch.path("usr.squashfs")
        let bytes = try makeSquashfs(image: image, from: scratch.path("tree"), clock: testClock)
        XCTAssertEqual(bytes, try fileSize(image))

        // unsquashfs -lln: "MODE UID/GID SIZE DATE TIME squashfs-root/PATH [-> TARGET]", columns padded.
        let listing = try Command.run(["unsquashfs", "-lln", image.path], environment: ["TZ": "UTC"]).text
        let entries = Dictionary(listing.split(separator: "\n").map { line -> (String, String) in
            let fields = line.split(separator: " ")
            let path = fields[5].dropFirst("squashfs-root".count)
            return (String(path), ([fields[0], fields[1], fields[3], fields[4]] + fields.dropFirst(6)).joined(separator: " "))
        }, uniquingKeysWith: { first, _ in first })
        XCTAssertEqual(entries["/bin/tool"], "-rwsr-xr-x 0/0 2023-11-14 22:13")
        XCTAssertEqual(entries["/etc"], "drwxr-x--- 0/27 2023-11-14 22:13")
        XCTAssertEqual(entries["/etc/hostname"], "-rw-r----- 1000/1001 2023-11-14 22:13")
        XCTAssertEqual(entries["/etc/fresh"], "-rw-r--r-- 0/0 2023-11-14 22:13")
        XCTAssertEqual(entries["/home/core"], "drwx------ 500/500 2023-11-14 22:13")
        XCTAssertEqual(entries["/lib/libdemo.so"], "lrwxrwxrwx 0/0 2023-11-14 22:13 -> libdemo.so.1")
        XCTAssertTrue(try sh("unsquashfs", "-s", image.path).contains("Compression zstd"))
        XCTAssertEqual(try sh("unsquashfs", "-cat", image.path, "etc/hostname"), "coreos\n")
    }

    func testSquashfsBuildsOfCopiesOfOneTreeAreByteIdentical() throws {
        try assertRebuildFromACopyIsByteIdentical { image, tree in
            _ = try makeSquashfs(image: image, from: tree, clock: testClock, compression: "xz")
        }
    }

    func testSquashfsUsesTheClockEvenWhenSourceDateEpochIsSet() throws {
        // A build runs with SOURCE_DATE_EPOCH exported; mksquashfs must not trip over it.
        setenv("SOURCE_DATE_EPOCH", "1", 1)
        defer { unsetenv("SOURCE_DATE_EPOCH") }
        let scratch = try Scratch()
        try makeRootTree(at: scratch.path("tree"))
        let image = scratch.path("usr.squashfs")
        _ = try makeSquashfs(image: image, from: scratch.path("tree"), clock: testClock)
        let listing = try Command.run(["unsquashfs", "-lln", image.path], environment: ["TZ": "UTC"]).text
        XCTAssertTrue(listing.contains("2023-11-14 22:13"), listing)
    }

    func testSquashfsCompressionLevelIsPassedToTheCompressor() throws {
        let scratch = try Scratch()
        try makeRootTree(at: scratch.path("tree"))
        let image = scratch.path("usr.squashfs")
        _ = try makeSquashfs(image: image, from: scratch.path("tree"), clock: testClock, compression: "zstd:3")
        // unsquashfs -s reports the level stored in the superblock's compressor options.
        XCTAssertTrue(try sh("unsquashfs", "-s", image.path).contains("compression-level 3"))
    }

    func testACompressionTheToolRefusesFailsAndLeavesNoImage() throws {
        // Boards are checked against Recipes' list when read; what else reaches mkfs fails in the tool.
        let scratch = try Scratch()
        try makeRootTree(at: scratch.path("tree"))
        XCTAssertThrowsError(try makeSquashfs(image: scratch.path("usr.squashfs"), from: scratch.path("tree"),
                                              clock: testClock, compression: "zstd:99")) { error in
            XCTAssertTrue("\(error)".contains("-Xcompression-level invalid"), "\(error)")
        }
        XCTAssertThrowsError(try makeErofs(image: scratch.path("usr.erofs"), from: scratch.path("tree"),
                                           clock: testClock, uuid: uuid, compression: "zstd")) { error in
            XCTAssertTrue("\(error)".contains("Cannot find a valid compressor zstd"), "\(error)")
        }
        XCTAssertEqual(try scratch.names(), ["tree"])
    }
}
