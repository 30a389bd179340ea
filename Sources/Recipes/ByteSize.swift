/// Sizes in boards: a whole number of bytes, or a whole number with a binary unit. Decimal units
/// (MB) are refused rather than guessed, because 10MB and 10MiB differ by 5 %.
enum ByteSize {
    static let units: [(suffix: String, bytes: UInt64)] = [
        ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("TiB", 1 << 40),
    ]
    /// Partitions and alignments are whole sectors.
    static let sector: UInt64 = 512

    static var unitList: String { units.map(\.suffix).joined(separator: ", ") }

    static func parse(_ text: String) throws -> UInt64 {
        let digits = text.prefix(while: \.isASCIIDigit)
        let suffix = text.dropFirst(digits.count)
        guard !digits.isEmpty, suffix.first?.isLetter ?? true else {
            throw InvalidValue("'\(text)' is not a size: write a whole number of bytes, or a whole number "
                               + "followed by \(unitList) (e.g. 128MiB)")
        }
        var multiplier: UInt64 = 1
        if !suffix.isEmpty {
            guard let unit = units.first(where: { $0.suffix == suffix }) else {
                throw InvalidValue("unknown unit '\(suffix)' in size '\(text)': use \(unitList) "
                                   + "(powers of 1024), or no unit for bytes")
            }
            multiplier = unit.bytes
        }
        guard let count = UInt64(digits), case let (bytes, overflow) = count.multipliedReportingOverflow(by: multiplier),
              !overflow else {
            throw InvalidValue("size '\(text)' is too large")
        }
        guard bytes > 0 else { throw InvalidValue("size '\(text)' must be positive") }
        guard bytes % sector == 0 else {
            throw InvalidValue("size '\(text)' is not a multiple of \(sector) bytes (one sector)")
        }
        return bytes
    }
}
