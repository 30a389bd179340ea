import Disk
import XCTest

final class GPTPartitionAttributesTests: XCTestCase {
    func testUSRAAfterImageBuildSetsPriorityAndSuccessfulBits() {
        let usrA = GPTPartitionAttributes(priority: 1, tries: 0, successful: true)
        XCTAssertEqual(usrA.rawValue, 0x0101_0000_0000_0000)
        let entryBytes = withUnsafeBytes(of: usrA.rawValue.littleEndian, Array.init)
        XCTAssertEqual(entryBytes[54 - 48], 0x01, "entry byte 54: tries high nibble, priority low nibble")
        XCTAssertEqual(entryBytes[55 - 48], 0x01, "entry byte 55: successful in bit 0")
    }

    func testTriesSitInTheHighNibbleOfEntryByte54() {
        let updated = GPTPartitionAttributes(priority: 2, tries: 1, successful: false)
        XCTAssertEqual(updated.rawValue, 0x0012_0000_0000_0000)
        XCTAssertEqual(GPTPartitionAttributes(priority: 15, tries: 15, successful: true).rawValue, 0x01FF_0000_0000_0000)
    }

    func testLegacyBIOSBootableIsBit2() {
        XCTAssertEqual(GPTPartitionAttributes(legacyBIOSBootable: true).rawValue, 0b100)
    }

    func testFieldsDecodeFromARawValueAndChangeIndependently() {
        var attributes = GPTPartitionAttributes(rawValue: 0x1000_0000_0000_0004 | 0x0131_0000_0000_0000)
        XCTAssertEqual(attributes.priority, 1)
        XCTAssertEqual(attributes.tries, 3)
        XCTAssertTrue(attributes.successful)
        XCTAssertTrue(attributes.legacyBIOSBootable)
        attributes.tries = 0
        attributes.successful = false
        XCTAssertEqual(attributes.rawValue, 0x1001_0000_0000_0004, "bit 60 (read-only) and bit 2 are kept")
        XCTAssertEqual(attributes.description, "priority=1 tries=0 successful=0 legacy_boot=1")
    }
}
