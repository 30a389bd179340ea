// The A/B layout every side agrees on — coresdk's image builder and installer, the in-image update
// engine, the bootloader's rules: the slots, their GPT names and attribute bits, their boot files.
// Standard library only, so the in-image agents can use it.

/// One of the two /usr slots. coreos-boot, the initramfs and the updater find a slot by its GPT name
/// (USR-A, USR-B) and the USR partition type; the letter names the slot's boot files on the ESP.
public enum UsrSlot: String, Sendable, CaseIterable, Codable {
    case a, b

    /// The GPT name (PARTLABEL) of the slot's partition.
    public var label: String { "USR-\(rawValue.uppercased())" }
    public var other: UsrSlot { self == .a ? .b : .a }

    public init?(label: String) {
        guard let slot = Self.allCases.first(where: { $0.label == label }) else { return nil }
        self = slot
    }
}

/// A slot's boot files on the ESP, where coreos-boot reads them: USR-A boots `/coreos/vmlinuz-a` with
/// `/coreos/initrd-a` and the kernel command line in `/coreos/cmdline-a`, USR-B the `-b` files.
public struct SlotBootFiles: Sendable, Equatable {
    public enum File: String, Sendable, CaseIterable {
        case kernel = "vmlinuz", initramfs = "initrd", commandLine = "cmdline"
    }

    /// The ESP directory of the slot files; fixed, because the bootloader looks there.
    public static let directory = "coreos"

    public let slot: UsrSlot

    public init(_ slot: UsrSlot) { self.slot = slot }

    /// The file's path in the ESP, relative to its root: `coreos/vmlinuz-a`.
    public func path(_ file: File) -> String { "\(Self.directory)/\(file.rawValue)-\(slot.rawValue)" }
}
