#if canImport(Glibc)
import Glibc
private let (streamType, closeOnExec) = (Int32(SOCK_STREAM.rawValue), Int32(SOCK_CLOEXEC.rawValue))
#elseif canImport(Musl)
import Musl
private let (streamType, closeOnExec) = (SOCK_STREAM, SOCK_CLOEXEC)
#endif

/// One TCP connection. The socket is non-blocking so that every wait is a poll() with a timeout:
/// the connect timeout while connecting, then the low-speed limit's window.
final class Connection {
    private let descriptor: Int32
    private let url: String
    private var speed: LowSpeedWatch

    init(to url: HTTPURL, connectTimeout: Int, lowSpeedLimit: (bytes: Int, seconds: Int)) throws(HTTPError) {
        self.url = url.description
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = streamType
        var addresses: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(url.host, String(url.port), &hints, &addresses)
        guard status == 0, let addresses else {
            throw .resolveFailed(host: url.host, reason: status == EAI_SYSTEM ? systemError() : String(cString: gai_strerror(status)))
        }
        defer { freeaddrinfo(addresses) }
        let deadline = ContinuousClock.now + .seconds(connectTimeout)
        var failure = "no address"
        for address in sequence(first: addresses, next: { $0.pointee.ai_next }) {
            switch Self.open(address.pointee, before: deadline) {
            case .success(let socket):
                self.descriptor = socket
                speed = LowSpeedWatch(limit: lowSpeedLimit)
                return
            case .failure(.timedOut):
                throw .timedOut(url: self.url, reason: "connecting to \(url.authority) took longer than \(connectTimeout) s")
            case .failure(.refused(let reason)):
                failure = reason
            }
        }
        throw .connectFailed(host: url.host, port: url.port, reason: failure)
    }

    deinit { close(descriptor) }

    private enum ConnectFailure: Error { case timedOut, refused(String) }

    private static func open(_ address: addrinfo, before deadline: ContinuousClock.Instant) -> Result<Int32, ConnectFailure> {
        let fd = socket(address.ai_family, streamType | closeOnExec, address.ai_protocol)
        guard fd >= 0 else { return .failure(.refused(systemError())) }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        if connect(fd, address.ai_addr, address.ai_addrlen) != 0 && errno != EINPROGRESS {
            defer { close(fd) }
            return .failure(.refused(systemError()))
        }
        var ready = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        while true {
            let remaining = milliseconds(until: deadline)
            guard remaining > 0 else { close(fd); return .failure(.timedOut) }
            let polled = poll(&ready, 1, remaining)
            if polled > 0 { break }
            if polled < 0 && errno != EINTR { close(fd); return .failure(.refused(systemError())) }
        }
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
        guard error == 0 else { close(fd); return .failure(.refused(String(cString: strerror(error)))) }
        return .success(fd)
    }

    func write(_ bytes: [UInt8]) throws(HTTPError) {
        var sent = 0
        while sent < bytes.count {
            try wait(for: POLLOUT)
            let count = bytes[sent...].withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count < 0 {
                guard errno == EAGAIN || errno == EINTR else { throw .connectionLost(url: url, reason: "sending: \(systemError())") }
                continue
            }
            sent += count
            try speed.record(count, url: url)
        }
    }

    /// Up to `limit` bytes, as soon as some arrive; empty at the end of the stream.
    func read(limit: Int = 64 * 1024) throws(HTTPError) -> [UInt8] {
        while true {
            try wait(for: POLLIN)
            var failure: Int32 = 0
            let bytes = [UInt8](unsafeUninitializedCapacity: limit) { buffer, count in
                let received = recv(descriptor, buffer.baseAddress, limit, 0)
                count = max(received, 0)
                failure = received < 0 ? errno : 0
            }
            if failure == EAGAIN || failure == EINTR { continue }
            guard failure == 0 else { throw .connectionLost(url: url, reason: String(cString: strerror(failure))) }
            try speed.record(bytes.count, url: url)
            return bytes
        }
    }

    private func wait(for event: Int32) throws(HTTPError) {
        var ready = pollfd(fd: descriptor, events: Int16(event), revents: 0)
        while true {
            let polled = poll(&ready, 1, speed.millisecondsLeft)
            if polled > 0 { return }
            if polled < 0 && errno != EINTR { throw .connectionLost(url: url, reason: systemError()) }
            try speed.record(0, url: url)
        }
    }
}

/// curl's low-speed limit (CURLOPT_LOW_SPEED_LIMIT/TIME), which update_engine sets: a transfer
/// that averages fewer than `bytes` per second over `seconds` seconds has stalled.
private struct LowSpeedWatch {
    let limit: (bytes: Int, seconds: Int)
    private var windowStart = ContinuousClock.now
    private var bytesInWindow = 0

    init(limit: (bytes: Int, seconds: Int)) { self.limit = limit }

    private var windowEnd: ContinuousClock.Instant { windowStart + .seconds(limit.seconds) }
    var millisecondsLeft: Int32 { max(1, milliseconds(until: windowEnd)) }

    mutating func record(_ count: Int, url: String) throws(HTTPError) {
        bytesInWindow += count
        let now = ContinuousClock.now
        guard now >= windowEnd else { return }
        guard bytesInWindow >= limit.bytes * limit.seconds else {
            throw .timedOut(url: url, reason: "less than \(limit.bytes) bytes/s for \(limit.seconds) s")
        }
        (windowStart, bytesInWindow) = (now, 0)
    }
}

private func milliseconds(until deadline: ContinuousClock.Instant) -> Int32 {
    let (seconds, attoseconds) = (deadline - .now).components
    return Int32(clamping: max(0, seconds * 1000 + attoseconds / 1_000_000_000_000_000))
}

func systemError() -> String { String(cString: strerror(errno)) }
