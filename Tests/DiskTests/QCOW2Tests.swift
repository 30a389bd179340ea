import Disk
import Foundation
import Support
import XCTest

final class QCOW2Tests: XCTestCase {
    func testConvertedImageIsIdenticalToTheRawOneAndPassesCheck() throws {
        let directory = try temporaryDirectory(for: self)
        let raw = directory.appendingPathComponent("disk.bin")
        let qcow2 = directory.appendingPathComponent("disk.qcow2")
        let layout = try CoreOSBase.layout()
        try GPTWriter.write(layout, to: raw)
        let filesystem = directory.appendingPathComponent("usr.img")
        try Data(repeating: 0x5A, count: 3 << 20).write(to: filesystem)
        try PartitionWriter.copy(filesystemImage: filesystem, into: raw, partition: try XCTUnwrap(layout.partition(number: 3)))

        try QCOW2.convert(raw: raw, to: qcow2)

        XCTAssertNoThrow(try QCOW2.check(qcow2))
        XCTAssertNoThrow(try QCOW2.compare(raw, qcow2))
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        XCTAssertEqual(names, ["disk.bin", "disk.qcow2", "usr.img"], "no temporary file is left behind")
    }

    func testCompareNamesBothImagesWhenTheyDiffer() throws {
        let directory = try temporaryDirectory(for: self)
        let raw = directory.appendingPathComponent("disk.bin")
        let qcow2 = directory.appendingPathComponent("disk.qcow2")
        try GPTWriter.write(try CoreOSBase.layout(), to: raw)
        try QCOW2.convert(raw: raw, to: qcow2)
        try FdiskContext.updateAttributes(in: raw, partition: 4) { $0.priority = 2 }
        let text = message { try QCOW2.compare(raw, qcow2) }
        XCTAssertTrue(text.hasPrefix("\(raw.path) and \(qcow2.path) differ: Content mismatch at offset "), text)
    }

    func testFailedConversionLeavesNoFileBehind() throws {
        let directory = try temporaryDirectory(for: self)
        let qcow2 = directory.appendingPathComponent("disk.qcow2")
        XCTAssertThrowsError(try QCOW2.convert(raw: directory.appendingPathComponent("missing.bin"), to: qcow2))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), [])
    }
}
