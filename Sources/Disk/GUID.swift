/// GUID text handling shared by the layout (validation) and the reader (on-disk decoding).
enum GUID {
    static let zero = "00000000-0000-0000-0000-000000000000"

    /// `text` in canonical uppercase 8-4-4-4-12 form, or nil when it is not a GUID.
    static func normalized(_ text: String) -> String? {
        let groups = text.split(separator: "-", omittingEmptySubsequences: false)
        guard groups.map(\.count) == [8, 4, 4, 4, 12],
              groups.allSatisfy({ $0.allSatisfy(\.isHexDigit) }) else { return nil }
        return text.uppercased()
    }

    /// Decodes 16 on-disk bytes. UEFI stores the first three fields little-endian and the last two
    /// as plain bytes ("mixed endian"), so the text is not simply the bytes in order.
    static func decode(_ bytes: ArraySlice<UInt8>) -> String {
        precondition(bytes.count == 16)
        let b = Array(bytes)
        let order = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15]
        let hex = order.map { hexByte(b[$0]) }
        return [hex[0..<4], hex[4..<6], hex[6..<8], hex[8..<10], hex[10..<16]]
            .map { $0.joined() }.joined(separator: "-")
    }

    private static func hexByte(_ byte: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
    }
}
