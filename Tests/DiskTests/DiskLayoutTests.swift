import Disk
import Support
import XCTest

final class DiskLayoutTests: XCTestCase {
    func testCoreOSBaseLayoutReproducesTheSpecsDerivedPlacement() throws {
        let layout = try CoreOSBase.layout()
        XCTAssertEqual(layout.partitions.map(\.number), [1, 2, 3, 4, 6, 7, 9])
        XCTAssertEqual(layout.partitions.map(\.firstLBA), [4096, 266_240, 270_336, 2_367_488, 4_464_640, 4_726_784, 4_857_856])
        XCTAssertEqual(layout.partitions.map(\.lastLBA), [266_239, 270_335, 2_367_487, 4_464_639, 4_726_783, 4_857_855, 9_285_631])
        XCTAssertEqual(layout.totalSectors, 9_289_728)
        XCTAssertEqual(layout.totalBytes, 4536 << 20)
        let usrA = try XCTUnwrap(layout.partition(labeled: "USR-A"))
        XCTAssertEqual(usrA.byteOffset, 270_336 * 512)
        XCTAssertEqual(usrA.byteCount, 1 << 30)
    }

    func testVMLayoutGrowsRootAndRoundsTheDiskUpToDiskAlignment() throws {
        let layout = try CoreOSBase.layout(rootSectors: 12_943_360)
        XCTAssertEqual(layout.partition(number: 9)?.lastLBA, 17_801_215)
        XCTAssertEqual(layout.totalSectors, 17_805_312)
        XCTAssertEqual(layout.totalSectors % 258_048, 0)
    }

    func testPartitionsArePlacedInNumericOrderWhateverOrderTheyAreGivenIn() throws {
        let shuffled = try DiskLayout.plan(partitions: CoreOSBase.specs().reversed(), diskIdentity: "test-board")
        XCTAssertEqual(shuffled, try CoreOSBase.layout())
    }

    func testTypeAliasesAreResolvedAndGUIDsUppercased() throws {
        let layout = try CoreOSBase.layout()
        XCTAssertEqual(layout.partition(number: 3)?.typeGUID, "5DFBF5F4-2848-4BAC-AA5E-0D9A20B745A6")
        XCTAssertEqual(layout.partition(number: 3)?.uniqueGUID, CoreOSBase.usrAGUID)
        XCTAssertEqual(layout.partition(number: 3)?.spec.typeGUID, "coreos-rootfs", "the spec stays as given")
    }

    func testPartitionWithoutUniqueGUIDGetsOneDerivedFromDiskIdentityAndLabel() throws {
        let first = try CoreOSBase.layout().partition(labeled: "ROOT")?.uniqueGUID
        let again = try CoreOSBase.layout().partition(labeled: "ROOT")?.uniqueGUID
        let otherBoard = try DiskLayout.plan(partitions: CoreOSBase.specs(), diskIdentity: "other-board")
            .partition(labeled: "ROOT")?.uniqueGUID
        XCTAssertEqual(first, stableUUID("test-board/ROOT").uppercased())
        XCTAssertEqual(first, again)
        XCTAssertNotEqual(first, otherBoard)
    }

    func testDuplicatePartitionNumberIsRejectedNamingBothLabels() {
        var specs = CoreOSBase.specs()
        specs[3].number = 3
        let text = planningError(specs)
        XCTAssertEqual(text, "partition number 3 is used twice: by 'USR-A' and by 'USR-B'")
    }

    func testDuplicateLabelIsRejectedNamingBothNumbers() {
        var specs = CoreOSBase.specs()
        specs[3].label = "USR-A"
        let text = planningError(specs)
        XCTAssertEqual(text, "partition label 'USR-A' is used twice: by partition 3 and by partition 4")
    }

    func testSizeThatIsNotWholeSectorsIsRejectedWithTheNextValidSize() {
        var specs = CoreOSBase.specs()
        specs[5].sizeBytes = 64_000_001
        let text = planningError(specs)
        XCTAssertEqual(text, "partition 7 (OEM-CONFIG): the size 64000001 bytes is not a multiple of 512-byte "
            + "sectors; use 64000512 bytes")
    }

    func testBlankPartitionOfSizeZeroIsRejected() {
        let blank = PartitionSpec(number: 5, label: "ROOT-C", typeGUID: "data", sizeBytes: 0)
        let text = planningError([blank])
        XCTAssertTrue(text.hasPrefix("partition 5 (ROOT-C): the size is 0"), text)
    }

    func testNumbersOutsideTheGPTEntryRangeAreRejected() {
        for number in [0, 129] {
            let spec = PartitionSpec(number: number, label: "X", typeGUID: "data", sizeBytes: 512)
            let text = planningError([spec])
            XCTAssertEqual(text, "partition \(number) (X): the number must be within 1...128, the entries a GPT holds")
        }
    }

    func testLabelsAreLimitedTo36UTF16Units() throws {
        let fits = PartitionSpec(number: 1, label: String(repeating: "ü", count: 36), typeGUID: "data", sizeBytes: 512)
        XCTAssertNoThrow(try DiskLayout.plan(partitions: [fits], diskIdentity: "b"))
        // U+1F600 takes two UTF-16 units, so 18 of them already fill the name.
        let tooLong = PartitionSpec(number: 1, label: String(repeating: "😀", count: 19), typeGUID: "data", sizeBytes: 512)
        let text = planningError([tooLong])
        XCTAssertTrue(text.hasSuffix("the label is 38 UTF-16 units long; a GPT name holds at most 36"), text)
    }

    func testUnknownTypeAndMalformedUniqueGUIDAreRejectedNamingThePartition() {
        let unknownType = PartitionSpec(number: 2, label: "B", typeGUID: "coreos-usrr", sizeBytes: 512)
        XCTAssertTrue(planningError([unknownType])
            .hasPrefix("partition 2 (B): unknown type 'coreos-usrr' (known: efi, bios, coreos-usr,"))
        let badGUID = PartitionSpec(number: 2, label: "B", typeGUID: "data", uniqueGUID: "7130c94a", sizeBytes: 512)
        XCTAssertTrue(planningError([badGUID])
            .hasPrefix("partition 2 (B): the unique GUID '7130c94a' is not of the form"))
    }

    func testTheSameUniqueGUIDTwiceIsRejected() {
        var specs = CoreOSBase.specs()
        specs[3].uniqueGUID = CoreOSBase.usrAGUID
        let text = planningError(specs)
        XCTAssertEqual(text, "unique GUID \(CoreOSBase.usrAGUID) is used twice: by partition 3 (USR-A) "
            + "and by partition 4 (USR-B)")
    }

    private func planningError(_ specs: [PartitionSpec]) -> String {
        message { _ = try DiskLayout.plan(partitions: specs, diskIdentity: "b") }
    }
}
