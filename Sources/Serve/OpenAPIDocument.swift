/// `GET /v1/openapi.json`: the API described in OpenAPI 3, kept here in the
/// repository and checked against the running server by the tests
/// (schemathesis). Change it with the routes.
enum OpenAPIDocument {
    static let json = #"""
{
 "components": {
  "schemas": {
   "Batch": {
    "properties": {
     "counts": {
      "additionalProperties": {
       "type": "integer"
      },
      "type": "object"
     },
     "eta": {
      "nullable": true,
      "type": "number"
     },
     "failed": {
      "items": {
       "properties": {
        "error": {
         "nullable": true,
         "type": "string"
        },
        "error_code": {
         "nullable": true,
         "type": "string"
        },
        "id": {
         "type": "integer"
        },
        "input": {
         "nullable": true,
         "type": "string"
        },
        "meta": {
         "$ref": "#/components/schemas/Meta"
        },
        "output": {
         "nullable": true,
         "type": "string"
        }
       },
       "type": "object"
      },
      "type": "array"
     },
     "finished": {
      "type": "boolean"
     },
     "id": {
      "type": "integer"
     },
     "job_ids": {
      "items": {
       "type": "integer"
      },
      "type": "array"
     },
     "jobs": {
      "type": "integer"
     },
     "progress": {
      "type": "number"
     }
    },
    "required": [
     "id",
     "jobs",
     "job_ids",
     "counts",
     "progress",
     "finished",
     "failed"
    ],
    "type": "object"
   },
   "Error": {
    "additionalProperties": false,
    "properties": {
     "error": {
      "additionalProperties": false,
      "properties": {
       "code": {
        "type": "string"
       },
       "message": {
        "type": "string"
       }
      },
      "required": [
       "code",
       "message"
      ],
      "type": "object"
     }
    },
    "required": [
     "error"
    ],
    "type": "object"
   },
   "Event": {
    "properties": {
     "at": {
      "format": "date-time",
      "type": "string"
     },
     "detail": {
      "nullable": true,
      "type": "string"
     },
     "error_code": {
      "nullable": true,
      "type": "string"
     },
     "from": {
      "nullable": true,
      "type": "string"
     },
     "id": {
      "type": "integer"
     },
     "job": {
      "nullable": true,
      "type": "integer"
     },
     "kind": {
      "enum": [
       "job",
       "worker",
       "notification"
      ],
      "type": "string"
     },
     "meta": {
      "$ref": "#/components/schemas/Meta"
     },
     "parent_id": {
      "description": "For a part's events, the job it is part of (submit --split).",
      "nullable": true,
      "type": "integer"
     },
     "to": {
      "type": "string"
     },
     "worker": {
      "nullable": true,
      "type": "string"
     }
    },
    "required": [
     "id",
     "kind",
     "at",
     "to"
    ],
    "type": "object"
   },
   "EventPage": {
    "properties": {
     "events": {
      "items": {
       "$ref": "#/components/schemas/Event"
      },
      "type": "array"
     },
     "last": {
      "type": "integer"
     }
    },
    "required": [
     "events",
     "last"
    ],
    "type": "object"
   },
   "HLSLadder": {
    "description": "HLS: the rungs, from 240p, 360p, 480p, 720p, 1080p, each the short side of its picture; rungs larger than the source are dropped. Default: all.",
    "example": "240p,360p,720p",
    "minLength": 1,
    "type": "string"
   },
   "Poster": {
    "description": "A poster, a telling picture from the first 30 s: poster.jpg in an HLS folder (default: true; false: none); beside a single file out.mp4, out.poster.jpg (default: false).",
    "type": "boolean"
   },
   "HLSSegment": {
    "description": "HLS: each segment's length, every rung cut at the same instants: 2s, 4s, 6s, or a number of seconds (1 to 60). Default: 4s.",
    "oneOf": [
     {
      "type": "string"
     },
     {
      "maximum": 60,
      "minimum": 1,
      "type": "number"
     }
    ]
   },
   "HLSSegmentType": {
    "description": "HLS: the segments' format, fMP4 (CMAF) or MPEG-TS. Default: fmp4.",
    "enum": [
     "fmp4",
     "ts"
    ],
    "type": "string"
   },
   "Storyboard": {
    "description": "A storyboard for scrubbing: at most 100 thumbnails and their WebVTT track, storyboard.jpg and storyboard.vtt in an HLS folder, out.storyboard.jpg and out.storyboard.vtt beside a single file out.mp4. Default: false.",
    "type": "boolean"
   },
   "Job": {
    "properties": {
     "attempts": {
      "type": "integer"
     },
     "batch_id": {
      "nullable": true,
      "type": "integer"
     },
     "error": {
      "nullable": true,
      "type": "string"
     },
     "error_code": {
      "nullable": true,
      "type": "string"
     },
     "eta": {
      "nullable": true,
      "type": "number"
     },
     "finished_at": {
      "format": "date-time",
      "nullable": true,
      "type": "string"
     },
     "fps": {
      "nullable": true,
      "type": "number"
     },
     "id": {
      "format": "int64",
      "type": "integer"
     },
     "input": {
      "nullable": true,
      "type": "string"
     },
     "key": {
      "nullable": true,
      "type": "string"
     },
     "max_attempts": {
      "type": "integer"
     },
     "meta": {
      "$ref": "#/components/schemas/Meta"
     },
     "notify": {
      "description": "The URL told when the job ends (submit --notify).",
      "nullable": true,
      "type": "string"
     },
     "output": {
      "nullable": true,
      "type": "string"
     },
     "parent_id": {
      "description": "The job this one is a part of, if any.",
      "nullable": true,
      "type": "integer"
     },
     "parts": {
      "additionalProperties": false,
      "description": "A split job's parts (submit --split): how many, and how many in each state; null for a job without parts.",
      "nullable": true,
      "properties": {
       "cancelled": {
        "type": "integer"
       },
       "failed": {
        "type": "integer"
       },
       "queued": {
        "type": "integer"
       },
       "running": {
        "type": "integer"
       },
       "succeeded": {
        "type": "integer"
       },
       "total": {
        "type": "integer"
       }
      },
      "required": [
       "total",
       "queued",
       "running",
       "succeeded",
       "failed",
       "cancelled"
      ],
      "type": "object"
     },
     "priority": {
      "type": "integer"
     },
     "progress": {
      "maximum": 1,
      "minimum": 0,
      "type": "number"
     },
     "queue": {
      "type": "string"
     },
     "result": {
      "$ref": "#/components/schemas/Result"
     },
     "retry_at": {
      "format": "date-time",
      "nullable": true,
      "type": "string"
     },
     "retrying": {
      "type": "boolean"
     },
     "started_at": {
      "format": "date-time",
      "nullable": true,
      "type": "string"
     },
     "state": {
      "enum": [
       "queued",
       "running",
       "succeeded",
       "failed",
       "cancelled",
       "waiting"
      ],
      "type": "string"
     },
     "submitted_at": {
      "format": "date-time",
      "type": "string"
     },
     "worker": {
      "nullable": true,
      "type": "string"
     }
    },
    "required": [
     "id",
     "state",
     "retrying",
     "progress",
     "queue",
     "priority",
     "attempts",
     "max_attempts",
     "submitted_at",
     "meta"
    ],
    "type": "object"
   },
   "JobPage": {
    "properties": {
     "jobs": {
      "items": {
       "$ref": "#/components/schemas/Job"
      },
      "type": "array"
     },
     "next_before": {
      "nullable": true,
      "type": "integer"
     }
    },
    "required": [
     "jobs",
     "next_before"
    ],
    "type": "object"
   },
   "Meta": {
    "additionalProperties": {
     "type": "string"
    },
    "maxProperties": 32,
    "type": "object"
   },
   "NewBatch": {
    "additionalProperties": false,
    "properties": {
     "allow_partial": {
      "type": "boolean"
     },
     "audio_bitrate": {
      "oneOf": [
       {
        "type": "string"
       },
       {
        "minimum": 1,
        "type": "integer"
       }
      ]
     },
     "crf": {
      "maximum": 51,
      "minimum": 0,
      "type": "number"
     },
     "format": {
      "enum": [
       "flv",
       "mp4",
       "mkv",
       "hls"
      ],
      "type": "string"
     },
     "hls_segment_type": {
      "$ref": "#/components/schemas/HLSSegmentType"
     },
     "inputs": {
      "items": {
       "pattern": "^/",
       "type": "string"
      },
      "maxItems": 10000,
      "minItems": 1,
      "type": "array"
     },
     "ladder": {
      "$ref": "#/components/schemas/HLSLadder"
     },
     "max_attempts": {
      "maximum": 100,
      "minimum": 1,
      "type": "integer"
     },
     "max_height": {
      "minimum": 2,
      "type": "integer"
     },
     "max_memory": {
      "description": "512M, 2G",
      "type": "string"
     },
     "max_pixels": {
      "minimum": 4,
      "type": "integer"
     },
     "meta": {
      "$ref": "#/components/schemas/Meta"
     },
     "no_audio": {
      "type": "boolean"
     },
     "notify": {
      "description": "An http or https URL POSTed the job's JSON when it ends (and, for a batch, when all of it has ended), signed as Standard Webhooks say.",
      "maxLength": 2048,
      "type": "string"
     },
     "out_dir": {
      "pattern": "^/",
      "type": "string"
     },
     "overwrite": {
      "type": "boolean"
     },
     "poster": {
      "$ref": "#/components/schemas/Poster"
     },
     "preset": {
      "type": "string"
     },
     "priority": {
      "type": "integer"
     },
     "queue": {
      "maxLength": 255,
      "minLength": 1,
      "type": "string"
     },
     "segment": {
      "$ref": "#/components/schemas/HLSSegment"
     },
     "storyboard": {
      "$ref": "#/components/schemas/Storyboard"
     },
     "threads": {
      "maximum": 64,
      "minimum": 0,
      "type": "integer"
     },
     "timeout": {
      "description": "500ms, 30s, 10m, 2h, or a number of seconds",
      "oneOf": [
       {
        "type": "string"
       },
       {
        "minimum": 1,
        "type": "number"
       }
      ]
     },
     "video_bitrate": {
      "description": "200k, 1.5M or bits per second",
      "oneOf": [
       {
        "type": "string"
       },
       {
        "minimum": 1,
        "type": "integer"
       }
      ]
     },
     "x264_preset": {
      "enum": [
       "ultrafast",
       "superfast",
       "veryfast",
       "faster",
       "fast",
       "medium",
       "slow",
       "slower",
       "veryslow"
      ],
      "type": "string"
     }
    },
    "required": [
     "inputs",
     "out_dir",
     "format"
    ],
    "type": "object"
   },
   "NewJob": {
    "additionalProperties": false,
    "properties": {
     "allow_partial": {
      "type": "boolean"
     },
     "audio_bitrate": {
      "oneOf": [
       {
        "type": "string"
       },
       {
        "minimum": 1,
        "type": "integer"
       }
      ]
     },
     "chunk": {
      "description": "With split: the chunks' length, 30s, 1m, or a number of seconds (1 or more). Default: 30s.",
      "oneOf": [
       {
        "type": "string"
       },
       {
        "minimum": 1,
        "type": "number"
       }
      ]
     },
     "crf": {
      "maximum": 51,
      "minimum": 0,
      "type": "number"
     },
     "hls_segment_type": {
      "$ref": "#/components/schemas/HLSSegmentType"
     },
     "input": {
      "description": "absolute, as the workers see it",
      "pattern": "^/",
      "type": "string"
     },
     "key": {
      "maxLength": 255,
      "minLength": 1,
      "type": "string"
     },
     "ladder": {
      "$ref": "#/components/schemas/HLSLadder"
     },
     "max_attempts": {
      "maximum": 100,
      "minimum": 1,
      "type": "integer"
     },
     "max_height": {
      "minimum": 2,
      "type": "integer"
     },
     "max_memory": {
      "description": "512M, 2G",
      "type": "string"
     },
     "max_pixels": {
      "minimum": 4,
      "type": "integer"
     },
     "meta": {
      "$ref": "#/components/schemas/Meta"
     },
     "no_audio": {
      "type": "boolean"
     },
     "notify": {
      "description": "An http or https URL POSTed the job's JSON when it ends (and, for a batch, when all of it has ended), signed as Standard Webhooks say.",
      "maxLength": 2048,
      "type": "string"
     },
     "output": {
      "description": "absolute, as the workers see it; a folder for an HLS ladder when it ends in .hls",
      "pattern": "^/",
      "type": "string"
     },
     "overwrite": {
      "type": "boolean"
     },
     "poster": {
      "$ref": "#/components/schemas/Poster"
     },
     "preset": {
      "type": "string"
     },
     "priority": {
      "type": "integer"
     },
     "queue": {
      "maxLength": 255,
      "minLength": 1,
      "type": "string"
     },
     "segment": {
      "$ref": "#/components/schemas/HLSSegment"
     },
     "split": {
      "description": "One long video across the farm: chunks any worker encodes, joined into OUT without re-encoding (submit --split). true, or \"auto\": only when the input lasts over three chunks and the farm has more than one worker slot. Default: false.",
      "oneOf": [
       {
        "type": "boolean"
       },
       {
        "enum": [
         "auto"
        ],
        "type": "string"
       }
      ]
     },
     "storyboard": {
      "$ref": "#/components/schemas/Storyboard"
     },
     "threads": {
      "maximum": 64,
      "minimum": 0,
      "type": "integer"
     },
     "timeout": {
      "description": "500ms, 30s, 10m, 2h, or a number of seconds",
      "oneOf": [
       {
        "type": "string"
       },
       {
        "minimum": 1,
        "type": "number"
       }
      ]
     },
     "video_bitrate": {
      "description": "200k, 1.5M or bits per second",
      "oneOf": [
       {
        "type": "string"
       },
       {
        "minimum": 1,
        "type": "integer"
       }
      ]
     },
     "x264_preset": {
      "enum": [
       "ultrafast",
       "superfast",
       "veryfast",
       "faster",
       "fast",
       "medium",
       "slow",
       "slower",
       "veryslow"
      ],
      "type": "string"
     }
    },
    "required": [
     "input",
     "output"
    ],
    "type": "object"
   },
   "Result": {
    "nullable": true,
    "properties": {
     "audio_bitrate": {
      "nullable": true,
      "type": "integer"
     },
     "container": {
      "type": "string"
     },
     "duration": {
      "type": "number"
     },
     "files": {
      "items": {
       "properties": {
        "path": {
         "type": "string"
        },
        "size": {
         "type": "integer"
        }
       },
       "required": [
        "path",
        "size"
       ],
       "type": "object"
      },
      "type": "array"
     },
     "frames": {
      "type": "integer"
     },
     "height": {
      "type": "integer"
     },
     "video_bitrate": {
      "type": "integer"
     },
     "width": {
      "type": "integer"
     }
    },
    "required": [
     "files",
     "container",
     "duration",
     "width",
     "height",
     "video_bitrate",
     "frames"
    ],
    "type": "object"
   },
   "Worker": {
    "properties": {
     "concurrency": {
      "type": "integer"
     },
     "heartbeat_age": {
      "type": "number"
     },
     "heartbeat_at": {
      "format": "date-time",
      "type": "string"
     },
     "host": {
      "type": "string"
     },
     "id": {
      "type": "string"
     },
     "jobs_done": {
      "type": "integer"
     },
     "jobs_failed": {
      "type": "integer"
     },
     "pid": {
      "type": "integer"
     },
     "queues": {
      "items": {
       "type": "string"
      },
      "type": "array"
     },
     "reason": {
      "nullable": true,
      "type": "string"
     },
     "running": {
      "type": "integer"
     },
     "started_at": {
      "format": "date-time",
      "type": "string"
     },
     "state": {
      "enum": [
       "alive",
       "unhealthy",
       "stopping",
       "stopped",
       "gone"
      ],
      "type": "string"
     }
    },
    "required": [
     "id",
     "state",
     "host",
     "pid",
     "concurrency",
     "queues",
     "running",
     "started_at",
     "heartbeat_at",
     "heartbeat_age",
     "jobs_done",
     "jobs_failed"
    ],
    "type": "object"
   }
  },
  "securitySchemes": {
   "bearer": {
    "description": "Needed when serve runs with --token-file.",
    "scheme": "bearer",
    "type": "http"
   }
  }
 },
 "info": {
  "description": "The farm over HTTP: the same JSON as the command line's --json. Every error is {\"error\": {\"code\", \"message\"}}.",
  "title": "vqueue serve",
  "version": "1"
 },
 "openapi": "3.0.3",
 "paths": {
  "/metrics": {
   "get": {
    "operationId": "metrics",
    "responses": {
     "200": {
      "content": {
       "text/plain": {
        "schema": {
         "type": "string"
        }
       }
      },
      "description": "Prometheus text format 0.0.4"
     },
     "503": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "The queue database cannot be reached."
     }
    },
    "security": [
     {}
    ],
    "summary": "Prometheus metrics (no token needed)"
   }
  },
  "/v1/batches": {
   "post": {
    "operationId": "submitBatch",
    "requestBody": {
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/NewBatch"
       }
      }
     },
     "required": true
    },
    "responses": {
     "201": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Batch"
        }
       }
      },
      "description": "Queued."
     },
     "400": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "Not a JSON object, an unknown field, a bad option, or one that does not fit the output (HLS options for a single file; video_bitrate or preset for HLS)."
     },
     "401": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "A token is set and the request lacks it or has another."
     },
     "409": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "An output is busy or exists."
     },
     "413": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "The body is over 16 MiB."
     },
     "422": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "An input or output refused."
     },
     "503": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "The queue database cannot be reached."
     }
    },
    "summary": "Queue a batch, all or nothing"
   }
  },
  "/v1/batches/{id}": {
   "get": {
    "operationId": "getBatch",
    "parameters": [
     {
      "in": "path",
      "name": "id",
      "required": true,
      "schema": {
       "format": "int64",
       "minimum": 1,
       "type": "integer"
      }
     }
    ],
    "responses": {
     "200": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Batch"
        }
       }
      },
      "description": "The batch."
     },
     "400": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "Not an id."
     },
     "401": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "A token is set and the request lacks it or has another."
     },
     "404": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "No such batch."
     },
     "503": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "The queue database cannot be reached."
     }
    },
    "summary": "A batch, as status --batch --json"
   }
  },
  "/v1/events": {
   "get": {
    "operationId": "listEvents",
    "parameters": [
     {
      "in": "query",
      "name": "since",
      "schema": {
       "format": "int64",
       "minimum": 0,
       "type": "integer"
      }
     },
     {
      "in": "query",
      "name": "job",
      "schema": {
       "format": "int64",
       "minimum": 1,
       "type": "integer"
      }
     },
     {
      "in": "query",
      "name": "limit",
      "schema": {
       "default": 100,
       "maximum": 1000,
       "minimum": 1,
       "type": "integer"
      }
     }
    ],
    "responses": {
     "200": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/EventPage"
        }
       }
      },
      "description": "The events after since."
     },
     "400": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "A bad query value."
     },
     "401": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "A token is set and the request lacks it or has another."
     },
     "503": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "The queue database cannot be reached."
     }
    },
    "summary": "Events after an id; with Accept: text/event-stream, Server-Sent Events as they happen (resumable with Last-Event-ID)"
   }
  },
  "/v1/jobs": {
   "get": {
    "operationId": "listJobs",
    "parameters": [
     {
      "in": "query",
      "name": "state",
      "schema": {
       "enum": [
        "queued",
        "running",
        "succeeded",
        "failed",
        "cancelled",
        "waiting"
       ],
       "type": "string"
      }
     },
     {
      "in": "query",
      "name": "queue",
      "schema": {
       "maxLength": 255,
       "minLength": 1,
       "type": "string"
      }
     },
     {
      "in": "query",
      "name": "limit",
      "schema": {
       "default": 50,
       "maximum": 1000,
       "minimum": 1,
       "type": "integer"
      }
     },
     {
      "in": "query",
      "name": "before",
      "schema": {
       "format": "int64",
       "minimum": 1,
       "type": "integer"
      }
     }
    ],
    "responses": {
     "200": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/JobPage"
        }
       }
      },
      "description": "A page; the next is before=next_before."
     },
     "400": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "A bad query value."
     },
     "401": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "A token is set and the request lacks it or has another."
     },
     "414": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "The query is too long."
     },
     "503": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "The queue database cannot be reached."
     }
    },
    "summary": "Jobs, newest first, a page at a time"
   },
   "post": {
    "operationId": "submitJob",
    "requestBody": {
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/NewJob"
       }
      }
     },
     "required": true
    },
    "responses": {
     "200": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Job"
        }
       }
      },
      "description": "A job with this key existed: that job."
     },
     "201": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Job"
        }
       }
      },
      "description": "Queued."
     },
     "400": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "Not a JSON object, an unknown field, a bad option, or one that does not fit the output (HLS options for a single file; video_bitrate or preset for HLS)."
     },
     "401": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "A token is set and the request lacks it or has another."
     },
     "409": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "Another unfinished job writes OUT, or OUT exists."
     },
     "413": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "The body is over 64 KiB."
     },
     "422": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "The input or OUT refused as submit refuses them."
     },
     "503": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "The queue database cannot be reached."
     }
    },
    "summary": "Queue a job, with submit's checks"
   }
  },
  "/v1/jobs/{id}": {
   "get": {
    "operationId": "getJob",
    "parameters": [
     {
      "in": "path",
      "name": "id",
      "required": true,
      "schema": {
       "format": "int64",
       "minimum": 1,
       "type": "integer"
      }
     }
    ],
    "responses": {
     "200": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Job"
        }
       }
      },
      "description": "The job."
     },
     "400": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "Not an id."
     },
     "401": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "A token is set and the request lacks it or has another."
     },
     "404": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "No such job."
     },
     "503": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "The queue database cannot be reached."
     }
    },
    "summary": "A job, as status --json"
   }
  },
  "/v1/jobs/{id}/cancel": {
   "post": {
    "operationId": "cancelJob",
    "parameters": [
     {
      "in": "path",
      "name": "id",
      "required": true,
      "schema": {
       "format": "int64",
       "minimum": 1,
       "type": "integer"
      }
     }
    ],
    "responses": {
     "200": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Job"
        }
       }
      },
      "description": "Cancelled."
     },
     "400": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "Not an id."
     },
     "401": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "A token is set and the request lacks it or has another."
     },
     "404": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "No such job."
     },
     "409": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "Finished, or publishing."
     },
     "503": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "The queue database cannot be reached."
     }
    },
    "summary": "Cancel a queued or running job"
   }
  },
  "/v1/jobs/{id}/retry": {
   "post": {
    "operationId": "retryJob",
    "parameters": [
     {
      "in": "path",
      "name": "id",
      "required": true,
      "schema": {
       "format": "int64",
       "minimum": 1,
       "type": "integer"
      }
     }
    ],
    "responses": {
     "200": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Job"
        }
       }
      },
      "description": "Queued again."
     },
     "400": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "Not an id."
     },
     "401": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "A token is set and the request lacks it or has another."
     },
     "404": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "No such job."
     },
     "409": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "Not failed or cancelled, or OUT busy."
     },
     "422": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "The input refused as submit refuses it."
     },
     "503": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "The queue database cannot be reached."
     }
    },
    "summary": "Queue a failed or cancelled job again"
   }
  },
  "/v1/openapi.json": {
   "get": {
    "operationId": "openAPI",
    "responses": {
     "200": {
      "content": {
       "application/json": {
        "schema": {
         "type": "object"
        }
       }
      },
      "description": "OpenAPI 3"
     }
    },
    "summary": "This document"
   }
  },
  "/v1/uploads": {
   "post": {
    "description": "The body is the video (any content type), or a multipart/form-data form with one file part (a part with a filename) and text fields. The job's fields (output, the options of POST /v1/jobs, meta.KEY) come from the query string and the form's fields; flags (overwrite, no_audio, allow_partial, poster, storyboard) are true or false; split is true, false or auto.",
    "parameters": [
     {
      "description": "OUT, an absolute path (or a form field).",
      "in": "query",
      "name": "output",
      "required": false,
      "schema": {
       "type": "string"
      }
     },
     {
      "description": "Only its extension is kept, on the upload's name.",
      "in": "query",
      "name": "filename",
      "required": false,
      "schema": {
       "type": "string"
      }
     }
    ],
    "requestBody": {
     "content": {
      "application/octet-stream": {
       "schema": {
        "format": "binary",
        "type": "string"
       }
      },
      "multipart/form-data": {
       "schema": {
        "properties": {
         "file": {
          "format": "binary",
          "type": "string"
         },
         "output": {
          "type": "string"
         }
        },
        "required": [
         "file"
        ],
        "type": "object"
       }
      }
     },
     "required": true
    },
    "responses": {
     "201": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Job"
        }
       }
      },
      "description": "Written to the upload folder and queued; input is the upload's path."
     },
     "400": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "A bad field or option, an empty or cut-short body, a malformed form, key or input given."
     },
     "401": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "A token is set and the request lacks it or has another."
     },
     "404": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "Uploads are off (serve was started without --upload-dir)."
     },
     "409": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "Another unfinished job writes OUT, or OUT exists."
     },
     "413": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "The body is over 64 KiB."
     },
     "414": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "The path and query are over 4 KiB."
     },
     "422": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "The input or OUT refused as submit refuses them."
     },
     "503": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "The queue database cannot be reached."
     },
     "507": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "The upload folder's disk is full."
     }
    },
    "summary": "Upload a video and queue its transcode (all or nothing)."
   }
  },
  "/v1/workers": {
   "get": {
    "operationId": "listWorkers",
    "responses": {
     "200": {
      "content": {
       "application/json": {
        "schema": {
         "items": {
          "$ref": "#/components/schemas/Worker"
         },
         "type": "array"
        }
       }
      },
      "description": "Every worker."
     },
     "401": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "A token is set and the request lacks it or has another."
     },
     "503": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "The queue database cannot be reached."
     }
    },
    "summary": "The workers, as workers --json"
   }
  },
  "/v1/workers/{id}/stop": {
   "post": {
    "operationId": "stopWorker",
    "parameters": [
     {
      "in": "path",
      "name": "id",
      "required": true,
      "schema": {
       "minLength": 1,
       "type": "string"
      }
     },
     {
      "in": "query",
      "name": "now",
      "schema": {
       "enum": [
        "true",
        "false"
       ],
       "type": "string"
      }
     }
    ],
    "responses": {
     "200": {
      "content": {
       "application/json": {
        "schema": {
         "properties": {
          "stopping": {
           "items": {
            "type": "string"
           },
           "type": "array"
          }
         },
         "required": [
          "stopping"
         ],
         "type": "object"
        }
       }
      },
      "description": "Asked."
     },
     "400": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "A bad now."
     },
     "401": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "A token is set and the request lacks it or has another."
     },
     "404": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "No such live worker."
     },
     "503": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      },
      "description": "The queue database cannot be reached."
     }
    },
    "summary": "Ask a live worker to stop, as worker stop"
   }
  }
 },
 "security": [
  {},
  {
   "bearer": []
  }
 ],
 "servers": [
  {
   "url": "/"
  }
 ]
}
"""#
}
