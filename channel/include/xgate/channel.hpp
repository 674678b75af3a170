// xgate::channel — envelopes, frames, authentication, reliable delivery and typed gates:
// the transport-independent core of the messaging channel.
#pragma once

#include <xgate/channel/auth.hpp>
#include <xgate/channel/endpoint.hpp>
#include <xgate/channel/envelope.hpp>
#include <xgate/channel/error.hpp>
#include <xgate/channel/frame.hpp>
#include <xgate/channel/gate.hpp>
#include <xgate/channel/hub.hpp>
#include <xgate/channel/link.hpp>
#include <xgate/channel/longpoll.hpp>
#include <xgate/channel/method.hpp>
#include <xgate/channel/tcp.hpp>
#include <xgate/channel/transport.hpp>
