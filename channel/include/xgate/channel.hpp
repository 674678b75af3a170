// xgate::channel — envelopes, frames, endpoints, the hub and its TCP and long-poll servers,
// typed message codecs and method calls. The handshake and the link streams underneath are
// internal (xgate/channel/detail/).
#pragma once

#include <xgate/channel/endpoint.hpp>
#include <xgate/channel/envelope.hpp>
#include <xgate/channel/error.hpp>
#include <xgate/channel/frame.hpp>
#include <xgate/channel/hub.hpp>
#include <xgate/channel/longpoll.hpp>
#include <xgate/channel/message_codec.hpp>
#include <xgate/channel/method.hpp>
#include <xgate/channel/tcp.hpp>
#include <xgate/channel/transport.hpp>
