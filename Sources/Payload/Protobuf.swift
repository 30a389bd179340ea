/// The protobuf wire format, as much as update_metadata.proto needs: varints and length-delimited
/// fields. Fields are written in field-number order, as protoc's serializers do.
struct ProtobufWriter {
    private(set) var bytes: [UInt8] = []

    mutating func varint(_ field: Int, _ value: UInt64) {
        key(field, wireType: 0)
        appendVarint(value)
    }

    mutating func bytes(_ field: Int, _ value: [UInt8]) {
        key(field, wireType: 2)
        appendVarint(UInt64(value.count))
        bytes += value
    }

    mutating func message(_ field: Int, _ body: (inout ProtobufWriter) -> Void) {
        var inner = ProtobufWriter()
        body(&inner)
        bytes(field, inner.bytes)
    }

    private mutating func key(_ field: Int, wireType: UInt64) { appendVarint(UInt64(field) << 3 | wireType) }

    private mutating func appendVarint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }
}

struct ProtobufError: Error, CustomStringConvertible {
    let description: String
}

/// Reads fields one by one; unknown fields are skipped, as proto2 parsers do.
struct ProtobufReader {
    enum Value {
        case varint(UInt64)
        case bytes(ArraySlice<UInt8>)
    }

    private let data: ArraySlice<UInt8>
    private var position: Int

    init(_ data: ArraySlice<UInt8>) {
        self.data = data
        position = data.startIndex
    }

    mutating func next() throws -> (field: Int, value: Value)? {
        guard position < data.endIndex else { return nil }
        let key = try readVarint()
        let field = Int(key >> 3)
        guard field > 0 else { throw ProtobufError(description: "field number 0 at byte \(position)") }
        switch key & 7 {
        case 0: return (field, .varint(try readVarint()))
        case 1: return (field, .bytes(try take(8)))
        case 5: return (field, .bytes(try take(4)))
        case 2:
            let length = try readVarint()
            guard length <= UInt64(data.endIndex - position) else {
                throw ProtobufError(description: "field \(field) is \(length) bytes long but only \(data.endIndex - position) remain")
            }
            return (field, .bytes(try take(Int(length))))
        default:
            throw ProtobufError(description: "unsupported wire type \(key & 7) for field \(field)")
        }
    }

    private mutating func take(_ count: Int) throws -> ArraySlice<UInt8> {
        guard count <= data.endIndex - position else { throw ProtobufError(description: "truncated message") }
        defer { position += count }
        return data[position..<position + count]
    }

    private mutating func readVarint() throws -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while position < data.endIndex {
            let byte = data[position]
            position += 1
            guard shift < 64 else { throw ProtobufError(description: "varint longer than 10 bytes") }
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
        throw ProtobufError(description: "truncated varint")
    }
}

extension ProtobufReader.Value {
    func integer(_ field: String) throws -> UInt64 {
        guard case .varint(let value) = self else { throw ProtobufError(description: "\(field) is not a varint") }
        return value
    }

    func data(_ field: String) throws -> ArraySlice<UInt8> {
        guard case .bytes(let value) = self else { throw ProtobufError(description: "\(field) is not length-delimited") }
        return value
    }
}
