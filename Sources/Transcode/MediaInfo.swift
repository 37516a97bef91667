/// What libav sees in a file: the answer of `vqueue probe`. Field names are
/// the stable JSON names documented in the README.
public struct MediaInfo: Codable, Sendable, Equatable {
    public var path: String
    public var container: String
    /// Seconds, nil when the container does not say.
    public var duration: Double?
    public var bitRate: Int?
    public var streams: [StreamInfo]

    enum CodingKeys: String, CodingKey {
        case path, container, duration, streams
        case bitRate = "bit_rate"
    }
}

/// One stream of a probed file; video fields are nil on audio streams and
/// the other way round.
public struct StreamInfo: Codable, Sendable, Equatable {
    public var index: Int
    public var type: String
    public var codec: String
    public var isDefault: Bool
    public var duration: Double?
    public var bitRate: Int?
    public var width: Int?
    public var height: Int?
    public var pixelFormat: String?
    public var frameRate: Double?
    /// Degrees clockwise the pictures must turn to stand upright.
    public var rotation: Int?
    public var fieldOrder: String?
    public var sampleRate: Int?
    public var channels: Int?
    public var channelLayout: String?

    enum CodingKeys: String, CodingKey {
        case index, type, codec, duration, width, height, rotation, channels
        case isDefault = "default"
        case bitRate = "bit_rate"
        case pixelFormat = "pixel_format"
        case frameRate = "frame_rate"
        case fieldOrder = "field_order"
        case sampleRate = "sample_rate"
        case channelLayout = "channel_layout"
    }

    /// Explicit nulls, so every key is present in the JSON whatever the type.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(index, forKey: .index)
        try c.encode(type, forKey: .type)
        try c.encode(codec, forKey: .codec)
        try c.encode(isDefault, forKey: .isDefault)
        try c.encode(duration, forKey: .duration)
        try c.encode(bitRate, forKey: .bitRate)
        if type == "video" {
            try c.encode(width, forKey: .width)
            try c.encode(height, forKey: .height)
            try c.encode(pixelFormat, forKey: .pixelFormat)
            try c.encode(frameRate, forKey: .frameRate)
            try c.encode(rotation, forKey: .rotation)
            try c.encode(fieldOrder, forKey: .fieldOrder)
        }
        if type == "audio" {
            try c.encode(sampleRate, forKey: .sampleRate)
            try c.encode(channels, forKey: .channels)
            try c.encode(channelLayout, forKey: .channelLayout)
        }
    }
}
