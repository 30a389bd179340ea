/// RFC 4648 base64 (standard alphabet, padding required as Go's StdEncoding does); line breaks
/// are skipped, as YAML block scalars often wrap long values.
public enum Base64 {
    private static let values: [UInt8: UInt8] = {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        return Dictionary(uniqueKeysWithValues: alphabet.enumerated().map { ($1, UInt8($0)) })
    }()

    public static func decode(_ text: [UInt8]) -> [UInt8]? {
        let symbols = text.filter { $0 != UInt8(ascii: "\n") && $0 != UInt8(ascii: "\r") }
        guard symbols.count % 4 == 0 else { return nil }
        var output: [UInt8] = []
        output.reserveCapacity(symbols.count / 4 * 3)
        var index = 0
        while index < symbols.count {
            let quad = symbols[index..<index + 4]
            let padding = quad.reversed().prefix { $0 == UInt8(ascii: "=") }.count
            let isLast = index + 4 == symbols.count
            guard padding <= 2, padding == 0 || isLast else { return nil }
            var accumulator: UInt32 = 0
            for symbol in quad.dropLast(padding) {
                guard let value = values[symbol] else { return nil }
                accumulator = accumulator << 6 | UInt32(value)
            }
            accumulator <<= UInt32(6 * padding)
            let bytes = [UInt8(accumulator >> 16 & 0xFF), UInt8(accumulator >> 8 & 0xFF), UInt8(accumulator & 0xFF)]
            output += bytes.prefix(3 - padding)
            index += 4
        }
        return output
    }

    public static func encode(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        var output = ""
        var index = 0
        while index < bytes.count {
            let chunk = bytes[index..<min(index + 3, bytes.count)]
            var value = UInt32(0)
            for (offset, byte) in chunk.enumerated() { value |= UInt32(byte) << UInt32(16 - 8 * offset) }
            for position in 0..<4 {
                output.append(position <= chunk.count ? alphabet[Int(value >> UInt32(18 - 6 * position) & 0x3F)] : "=")
            }
            index += 3
        }
        return output
    }
}
