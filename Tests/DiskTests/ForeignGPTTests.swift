@testable import Disk
import Foundation
import Support
import XCTest

/// Partition tables our code did not write: the golden samples of `recipes/lib/gpt/samples/`, made at
/// test time by the real sfdisk and sgdisk (its `sample.sh`, the generator the C library's tests use too)
/// and read by `GPTReader`, compared with the same `.expected` files the C tests compare with.
final class ForeignGPTTests: XCTestCase {
    static let samples = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../recipes/lib/gpt/samples").standardizedFileURL

    /// One `.expected` file (its format is described in `sample.sh`).
    struct Expected {
        var copies: [String: String] = [:]
        var diskGUID: String?
        var partitions: [GPTEntry] = []
        var slot: String?

        var bothCopiesGood: Bool { copies["primary"] == "ok" && copies["backup"] == "ok" }

        init(_ text: String, file: String) throws {
            for (index, line) in text.split(separator: "\n").enumerated() where !line.hasPrefix("#") {
                let words = line.split(separator: " ", maxSplits: 1).map(String.init)
                guard words.count == 2 else { throw SupportError("\(file):\(index + 1): '\(line)' has no value") }
                switch words[0] {
                case "primary", "backup": copies[words[0]] = words[1]
                case "use": continue
                case "disk": diskGUID = words[1]
                case "partition": partitions.append(try Self.partition(words[1], at: "\(file):\(index + 1)"))
                case "slot": slot = words[1]
                default: throw SupportError("\(file):\(index + 1): unknown line '\(line)'")
                }
            }
        }

        /// `N type=GUID guid=GUID first=LBA last=LBA attrs=0x… name=NAME`; the name is the rest of the line.
        static func partition(_ text: String, at place: String) throws -> GPTEntry {
            guard let nameRange = text.range(of: " name=") else { throw SupportError("\(place): no name=") }
            let words = text[..<nameRange.lowerBound].split(separator: " ")
            var fields: [String: String] = [:]
            for word in words.dropFirst() {
                let pair = word.split(separator: "=", maxSplits: 1).map(String.init)
                guard pair.count == 2 else { throw SupportError("\(place): '\(word)' is not key=value") }
                fields[pair[0]] = pair[1]
            }
            guard let number = words.first.flatMap({ Int($0) }), let type = fields["type"], let guid = fields["guid"],
                  let first = fields["first"].flatMap({ UInt64($0) }), let last = fields["last"].flatMap({ UInt64($0) }),
                  let attrs = fields["attrs"].flatMap({ UInt64($0.dropFirst(2), radix: 16) }) else {
                throw SupportError("\(place): a partition line needs N type= guid= first= last= attrs=0x… name=")
            }
            return GPTEntry(number: number, typeGUID: type, uniqueGUID: guid,
                            name: String(text[nameRange.upperBound...]), firstLBA: first, lastLBA: last,
                            attributes: GPTPartitionAttributes(rawValue: attrs))
        }
    }

    private func sample(_ arguments: String...) throws -> String {
        try Command.run(["bash", Self.samples.appendingPathComponent("sample.sh").path] + arguments).text
    }

    func testTablesThatSfdiskAndSgdiskWroteReadAsTheirExpectedFilesSay() throws {
        let names = try sample("list").split(separator: "\n").map(String.init)
        XCTAssertGreaterThanOrEqual(names.count, 10, "the golden samples are in \(Self.samples.path)")
        let directory = try temporaryDirectory(for: self)
        var readWhole = 0
        for name in names {
            let image = directory.appendingPathComponent("\(name).img")
            try sample("make", name, image.path)
            let file = Self.samples.appendingPathComponent("\(name).expected")
            let expected = try Expected(try String(contentsOf: file, encoding: .utf8), file: "\(name).expected")
            guard expected.bothCopiesGood else {
                // GPTReader trusts a table only when both copies are good, and names the damaged one.
                let (copy, state) = expected.copies["primary"] != "ok" ? ("primary", expected.copies["primary"])
                                                                        : ("backup", expected.copies["backup"])
                let part = state == "header-crc" ? "header" : "entries"
                let text = message(of: { _ = try GPTReader.read(image) })
                XCTAssertTrue(text.contains("\(copy) GPT \(part) CRC32"), "\(name): \(text)")
                continue
            }
            let disk = try GPTReader.read(image)
            XCTAssertEqual(disk.diskGUID, expected.diskGUID, name)
            XCTAssertEqual(disk.partitions, expected.partitions, name)
            // gptprio's choice: the C code picks among all USR-type entries, the Swift updater only
            // between USR-A and USR-B, so a sample without exactly those two is refused by UsrSlots.
            let slotNumber = try XCTUnwrap(expected.slot, name)
            let named = expected.partitions.filter { UsrSlot(label: $0.name) != nil }
            if named.count == 2 && named.allSatisfy({ $0.typeGUID == PartitionType.coreOSUsr }) {
                let slots = try UsrSlots(disk, image: image)
                XCTAssertEqual(slots.next.map { String(slots[$0].number) } ?? "none", slotNumber, name)
            } else {
                XCTAssertThrowsError(try UsrSlots(disk, image: image), name)
            }
            readWhole += 1
        }
        XCTAssertGreaterThanOrEqual(readWhole, 5, "samples with both copies good")
    }
}
