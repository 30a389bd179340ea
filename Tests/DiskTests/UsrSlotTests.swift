import Disk
import Foundation
import Support
import XCTest

final class UsrSlotTests: XCTestCase {
    /// A CoreOS base disk whose slots carry the given gptprio bits, written and read back.
    private func slots(a: GPTPartitionAttributes, b: GPTPartitionAttributes,
                       relabel: [Int: String] = [:], retype: [Int: String] = [:]) throws -> UsrSlots {
        var specs = CoreOSBase.specs()
        for index in specs.indices {
            if specs[index].number == 3 { specs[index].attributes = a }
            if specs[index].number == 4 { specs[index].attributes = b }
            if let label = relabel[specs[index].number] { specs[index].label = label }
            if let type = retype[specs[index].number] { specs[index].typeGUID = type }
        }
        let image = try temporaryDirectory(for: self).appendingPathComponent("slots.bin")
        try GPTWriter.write(try DiskLayout.plan(partitions: specs, diskIdentity: "slots"), to: image)
        return try UsrSlots(try GPTReader.read(image), image: image)
    }

    func testSlotsAreFoundByNameAndKnowTheirLetters() throws {
        let found = try slots(a: .init(priority: 1, successful: true), b: .init())
        XCTAssertEqual(found.a.number, 3)
        XCTAssertEqual(found[.b].number, 4)
        XCTAssertEqual(UsrSlot.allCases.map(\.label), ["USR-A", "USR-B"])
        XCTAssertEqual(UsrSlot(label: "USR-B"), .b)
        XCTAssertNil(UsrSlot(label: "usr-b"), "GPT names are compared exactly, as coreos-boot compares them")
        XCTAssertEqual(UsrSlot.a.other, .b)
    }

    /// gptprio.next as coreos-boot and coreos-gptprio choose (spec §1.6).
    func testNextSlotFollowsGptprio() throws {
        let cases: [(GPTPartitionAttributes, GPTPartitionAttributes, UsrSlot?, String)] = [
            (.init(priority: 1, successful: true), .init(), .a, "a fresh image boots USR-A"),
            (.init(priority: 1, successful: true), .init(priority: 2, tries: 1), .b, "an update on trial boots first"),
            (.init(priority: 1, successful: true), .init(priority: 2, tries: 0), .a, "a spent trial falls back"),
            (.init(priority: 2, successful: true), .init(priority: 2, successful: true), .a, "a tie goes to the lower number"),
            (.init(priority: 0, tries: 3, successful: true), .init(priority: 0, tries: 1), nil, "priority 0 never boots"),
            (.init(priority: 5, tries: 0), .init(priority: 1, tries: 0), nil, "no tries and not proven: nothing boots"),
            (.init(priority: 15, tries: 15, successful: true), .init(priority: 14, successful: true), .a, "the top priority wins"),
        ]
        for (a, b, expected, why) in cases {
            XCTAssertEqual(try slots(a: a, b: b).next, expected, why)
        }
    }

    func testADiskWithoutBothSlotsIsRejected() throws {
        let text = message { _ = try self.slots(a: .init(), b: .init(), relabel: [4: "USR-C"]) }
        XCTAssertTrue(text.hasSuffix(": expected one partition named USR-B, found 0"), text)
        let retyped = message { _ = try self.slots(a: .init(), b: .init(), retype: [4: "linux-data"]) }
        XCTAssertTrue(retyped.hasSuffix(": partition 4 (USR-B) has type 0FC63DAF-8483-4772-8E79-3D69D8477DE4, "
            + "not the CoreOS USR type 5DFBF5F4-2848-4BAC-AA5E-0D9A20B745A6"), retyped)
    }
}
