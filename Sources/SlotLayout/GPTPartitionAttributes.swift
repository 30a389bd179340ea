/// The 64-bit attribute word of a GPT entry (entry bytes 48–55, little-endian), with the bits
/// CoreOS uses named. Bit positions are cgpt's (spec §1.6): GRUB's gptprio and update_engine flip
/// `priority`, `tries` and `successful` to switch between the USR-A and USR-B slots.
public struct GPTPartitionAttributes: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: UInt64

    public init(rawValue: UInt64) { self.rawValue = rawValue }

    public init(priority: UInt8 = 0, tries: UInt8 = 0, successful: Bool = false,
                legacyBIOSBootable: Bool = false) {
        rawValue = 0
        self.priority = priority
        self.tries = tries
        self.successful = successful
        self.legacyBIOSBootable = legacyBIOSBootable
    }

    /// 0–15; 0 means "never boot" (bits 48–51, low nibble of entry byte 54).
    public var priority: UInt8 {
        get { field(at: 48, width: 4) }
        set { setField(newValue, at: 48, width: 4, name: "priority") }
    }

    /// Boot attempts left, 0–15 (bits 52–55, high nibble of entry byte 54).
    public var tries: UInt8 {
        get { field(at: 52, width: 4) }
        set { setField(newValue, at: 52, width: 4, name: "tries") }
    }

    /// The slot has booted successfully (bit 56, bit 0 of entry byte 55).
    public var successful: Bool {
        get { field(at: 56, width: 1) == 1 }
        set { setField(newValue ? 1 : 0, at: 56, width: 1, name: "successful") }
    }

    /// UEFI "legacy BIOS bootable" (bit 2); cgpt's `-B1`, which CoreOS sets on the ESP.
    public var legacyBIOSBootable: Bool {
        get { field(at: 2, width: 1) == 1 }
        set { setField(newValue ? 1 : 0, at: 2, width: 1, name: "legacyBIOSBootable") }
    }

    /// cgpt's wording, so messages can be compared with `cgpt show` by eye.
    public var description: String {
        var text = "priority=\(priority) tries=\(tries) successful=\(successful ? 1 : 0)"
        if legacyBIOSBootable { text += " legacy_boot=1" }
        return text
    }

    private func field(at offset: UInt64, width: UInt64) -> UInt8 {
        UInt8((rawValue >> offset) & ((1 << width) - 1))
    }

    private mutating func setField(_ value: UInt8, at offset: UInt64, width: UInt64, name: String) {
        let mask: UInt64 = (1 << width) - 1
        // Silently masking would boot the wrong slot; callers validate user input before this.
        precondition(UInt64(value) <= mask, "GPT attribute \(name) holds 0...\(mask), got \(value)")
        rawValue = (rawValue & ~(mask << offset)) | (UInt64(value) << offset)
    }
}
