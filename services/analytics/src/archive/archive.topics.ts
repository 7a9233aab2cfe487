import { eventTopics } from '@app/messaging';

/** Analytics' own topics: poison events wait in the retry topic, then rest in the dead-letter topic. */
export const RETRY_TOPIC = 'analytics.retry';
export const DEAD_LETTER_TOPIC = 'analytics.dlt';

/** What the archive covers: every domain event topic, and the retry topic. */
export const ARCHIVE_TOPICS = [...eventTopics, RETRY_TOPIC];
