import Foundation
import Support
import TestSupport
import XCTest

@testable import Filesystems

final class VerityTests: XCTestCase {
    let salt = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00"
    let uuid = "0d9f4e8a-53a2-5c1b-9f7e-2a6b8c4d1e30"

    private func squashfsImage(in scratch: Scratch) throws -> (URL, UInt64) {
        try makeRootTree(at: scratch.path("tree"))
        // Incompressible bytes, so the image spans many data blocks and a real hash tree.
        var state: UInt32 = 1
        let noise = Data((0..<300_000).map { _ in state = state &* 1_664_525 &+ 1_013_904_223; return UInt8(state >> 24) })
        try TreeWriter(scratch.path("tree")).file("lib/noise", noise)
        let image = scratch.path("usr.img")
        return (image, try makeSquashfs(image: image, from: scratch.path("tree"), clock: testClock))
    }

    func testTreeIsAppendedRightAfterTheFilesystemAndVerifies() throws {
        let scratch = try Scratch()
        let (image, fsBytes) = try squashfsImage(in: scratch)
        let result = try Verity.format(image: image, dataBytes: fsBytes, salt: salt, uuid: uuid)

        XCTAssertEqual(result.hashOffset, fsBytes)  // mksquashfs pads to 4 KiB already
        XCTAssertEqual(result.dataBlocks, fsBytes / 4096)
        XCTAssertEqual(result.totalBytes, try fileSize(image))
        XCTAssertEqual(result.hashOffset + result.hashBytes, result.totalBytes)
        XCTAssertEqual(result.salt, salt)
        XCTAssertEqual(result.rootHash.count, 64)
        XCTAssertNoThrow(try Verity.verify(image: image, result: result))
        // The filesystem is still readable in front of the tree.
        XCTAssertEqual(try sh("unsquashfs", "-cat", image.path, "etc/hostname"), "coreos\n")
        let dump = try sh("veritysetup", "dump", "--hash-offset", String(result.hashOffset), image.path)
        XCTAssertTrue(dump.contains(uuid) && dump.contains("sha256"), dump)
    }

    func testOneFlippedByteInTheDataAreaFailsVerification() throws {
        let scratch = try Scratch()
        let (image, fsBytes) = try squashfsImage(in: scratch)
        let result = try Verity.format(image: image, dataBytes: fsBytes, salt: salt, uuid: uuid)

        let handle = try FileHandle(forUpdating: image)
        try handle.seek(toOffset: fsBytes / 2)
        let original = try handle.read(upToCount: 1)![0]
        try handle.seek(toOffset: fsBytes / 2)
        try handle.write(contentsOf: [original ^ 0x01])
        try handle.close()

        XCTAssertThrowsError(try Verity.verify(image: image, result: result)) { error in
            guard case .verityMismatch = error as? FilesystemError else { return XCTFail("\(error)") }
            XCTAssertTrue("\(error)".contains("does not match its dm-verity root hash"), "\(error)")
        }
    }

    func testSameImageSaltAndUUIDGiveTheSameRootHash() throws {
        let scratch = try Scratch()
        let (image, fsBytes) = try squashfsImage(in: scratch)
        let copy = scratch.path("copy.img")
        try FileManager.default.copyItem(at: image, to: copy)
        let first = try Verity.format(image: image, dataBytes: fsBytes, salt: salt, uuid: uuid)
        let second = try Verity.format(image: copy, dataBytes: fsBytes, salt: salt, uuid: uuid)
        XCTAssertEqual(first, second)
        try assertSameBytes(image, copy)
    }

    /// dm-verity format 1 (salt first): with under 128 data blocks the root hash is
    /// sha256(salt ‖ level-0 block), the level-0 block being sha256(salt ‖ block) per data block,
    /// zero-padded to 4 KiB. An unaligned data area is padded with zeros to whole blocks.
    func testRootHashOfAnUnalignedDataAreaMatchesAnIndependentComputation() throws {
        let scratch = try Scratch()
        let image = scratch.path("data.img")
        let data = Data((0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        try data.write(to: image)
        let result = try Verity.format(image: image, dataBytes: UInt64(data.count), salt: "c0ffee", uuid: uuid)

        XCTAssertEqual(result.hashOffset, 12_288)
        XCTAssertEqual(result.dataBlocks, 3)
        XCTAssertEqual(result.hashBytes, 2 * 4096)  // verity superblock + one hash block
        let salt = Data([0xC0, 0xFF, 0xEE])
        var padded = data
        padded.append(Data(count: 12_288 - data.count))
        var level0 = Data()
        for block in 0..<3 {
            level0.append(hexBytes(Digests.sha256(salt + padded[(block * 4096)..<((block + 1) * 4096)])))
        }
        level0.append(Data(count: 4096 - level0.count))
        XCTAssertEqual(result.rootHash, Digests.sha256(salt + level0))
    }

    func testImageLongerThanItsDataAreaIsRefusedAndLeftAlone() throws {
        let scratch = try Scratch()
        let image = scratch.path("usr.img")
        try Data(repeating: 0x42, count: 3 * 4096).write(to: image)
        XCTAssertThrowsError(try Verity.format(image: image, dataBytes: 4096, salt: salt, uuid: uuid)) { error in
            XCTAssertTrue("\(error)".contains("is 12288 bytes but its data area is 4096; pass the filesystem's size"), "\(error)")
        }
        XCTAssertEqual(try Data(contentsOf: image), Data(repeating: 0x42, count: 3 * 4096))
    }

    private func hexBytes(_ hex: String) -> Data {
        var bytes = Data()
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return bytes
    }
}
