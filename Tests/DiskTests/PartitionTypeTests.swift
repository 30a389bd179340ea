import Disk
import XCTest

final class PartitionTypeTests: XCTestCase {
    func testCgptAliasesResolveToTheirTypeGUIDs() {
        let expected = [
            "efi": "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
            "bios": "21686148-6449-6E6F-744E-656564454649",
            "coreos-usr": "5DFBF5F4-2848-4BAC-AA5E-0D9A20B745A6",
            "coreos-rootfs": "5DFBF5F4-2848-4BAC-AA5E-0D9A20B745A6",
            "coreos-resize": "3884DD41-8582-4404-B9A8-E9B84F2DF50E",
            "coreos-reserved": "C95DC21A-DF0E-4340-8D7B-26CBFA9A03E0",
            "coreos-root-raid": "BE9067B9-EA49-4F15-B4F6-F36F8C9E1818",
            "data": "0FC63DAF-8483-4772-8E79-3D69D8477DE4",
            "linux-data": "0FC63DAF-8483-4772-8E79-3D69D8477DE4",
        ]
        for (alias, guid) in expected {
            XCTAssertEqual(PartitionType.resolve(alias), guid, alias)
            XCTAssertTrue(PartitionType.aliases.contains(alias), alias)
        }
        XCTAssertEqual(PartitionType.resolve("flatcar-usr"), PartitionType.resolve("coreos-usr"))
    }

    func testLiteralGUIDIsAcceptedAndUppercased() {
        XCTAssertEqual(PartitionType.resolve("4f68bce3-e8cd-4db1-96e7-fbcaf984b709"),
                       "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709")
    }

    func testUnknownAliasAndMalformedGUIDResolveToNothing() {
        XCTAssertNil(PartitionType.resolve("blank"))
        XCTAssertNil(PartitionType.resolve("4f68bce3-e8cd-4db1-96e7-fbcaf984b70"))
        XCTAssertNil(PartitionType.resolve("4f68bce3-e8cd-4db1-96e7-fbcaf984b70g"))
    }
}
