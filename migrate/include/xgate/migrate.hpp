// xgate::migrate — checkpointed coroutine jobs that move between nodes while running.
// job.hpp (writing a job), node.hpp (hosting jobs), job_library.hpp (loading job libraries),
// records.hpp (what is in the store).
#pragma once

#include <xgate/migrate/error.hpp>
#include <xgate/migrate/job.hpp>
#include <xgate/migrate/job_library.hpp>
#include <xgate/migrate/job_store.hpp>
#include <xgate/migrate/node.hpp>
#include <xgate/migrate/records.hpp>
