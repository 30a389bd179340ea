import Foundation
@_exported import SlotLayout
import Support

/// The two USR partitions of a disk's GPT, and which one boots next.
public struct UsrSlots: Sendable, Equatable {
    public let a: GPTEntry
    public let b: GPTEntry

    /// Finds USR-A and USR-B, each once and of the USR partition type; `image` names the disk in errors.
    public init(_ gpt: GPTDisk, image: URL) throws {
        func find(_ slot: UsrSlot) throws -> GPTEntry {
            let named = gpt.partitions.filter { $0.name == slot.label }
            guard named.count == 1, let entry = named.first else {
                throw SupportError(file: image.path, "expected one partition named \(slot.label), found \(named.count)")
            }
            guard entry.typeGUID.uppercased() == PartitionType.coreOSUsr else {
                throw SupportError(file: image.path, "\(describe(entry.number, entry.name)) has type \(entry.typeGUID), "
                    + "not the CoreOS USR type \(PartitionType.coreOSUsr)")
            }
            return entry
        }
        a = try find(.a)
        b = try find(.b)
    }

    public subscript(slot: UsrSlot) -> GPTEntry { slot == .a ? a : b }

    /// gptprio.next, as coreos-boot chooses (spec §1.6): the highest priority among the slots with
    /// tries left or marked successful; a tie goes to the lower partition number. nil: neither boots.
    public var next: UsrSlot? {
        UsrSlot.allCases
            .filter { self[$0].attributes.priority > 0 && (self[$0].attributes.tries > 0 || self[$0].attributes.successful) }
            .max { (self[$0].attributes.priority, -self[$0].number) < (self[$1].attributes.priority, -self[$1].number) }
    }
}
